#!/bin/sh
# Runs in the guest at boot (as guest-setup.sh on the payload disk) for the
# package test: what the README tells a new user to do on the device, step
# by step, with the .deb built from this tree.
set -eu
p=/payload
. "$p/common.sh"

# "sudo apt install ../siotd_*.deb ../siot-ctl_*.deb": the guest has no
# network to a mirror, and the image already has every dependency, so dpkg
# installs them the same way (the same maintainer scripts run).
dpkg -i "$p"/siotd_*.deb "$p"/siot-ctl_*.deb > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log > /dev/ttyS0; exit 1; }
say "installed: $(dpkg-query -W -f='${Package} ${Version} ${Status}' siotd)"
say "installed: $(dpkg-query -W -f='${Package} ${Version} ${Status}' siot-ctl)"
say "socket after install: $(systemctl is-enabled siotd.socket) $(systemctl is-active siotd.socket)"

# Step 2: the client's key, readable by the daemon's group only.
install -m 0640 -o root -g siot "$p/alice.key" /etc/siot/keys/alice.key
# Step 3: a client and a command in /etc/siot.conf.
cat > /etc/siot.conf <<'CONF'
clients  = ( { id = "alice"; key_file = "/etc/siot/keys/alice.key"; } );
commands = ( { name = "uptime"; exec = [ "/usr/bin/uptime" ]; output = true; } );
CONF
# Step 4.
siotd --check-config > /dev/ttyS0 2>&1
systemctl enable --now siotd.socket

start_agent

trap - EXIT
say "READY"
