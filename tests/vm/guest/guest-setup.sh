#!/bin/sh
# Runs in the guest at boot, from the payload disk the host made (/payload):
# load gpio-sim and make a chip, install siotd the way a system would (its
# units, sysusers, tmpfiles, udev rule, config, key), enable the socket, start
# the test agent, and say READY on the console.
set -eu
p=/payload
. "$p/common.sh"

# siot, from the build tree.
install -m 0755 "$p/siotd" "$(sed -n 's/^ExecStart=//p' "$p/siotd.service")"
install -m 0644 "$p/siotd.socket" "$p/siotd.service" /etc/systemd/system/
install -D -m 0644 "$p/siot.sysusers" /usr/lib/sysusers.d/siot.conf
install -D -m 0644 "$p/siot.tmpfiles" /usr/lib/tmpfiles.d/siot.conf
install -D -m 0644 "$p/60-siot-gpio.rules" /etc/udev/rules.d/60-siot-gpio.rules
systemd-sysusers /usr/lib/sysusers.d/siot.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/siot.conf
udevadm control --reload

# A gpio-sim chip: label siot-sim, 8 lines, lines 3..5 named GPIO3..GPIO5.
insmod "$p/gpio-sim.ko"
cfs=/sys/kernel/config/gpio-sim/siot
mkdir "$cfs" "$cfs/bank0"
echo 8 > "$cfs/bank0/num_lines"
echo siot-sim > "$cfs/bank0/label"
for n in 3 4 5; do
	mkdir "$cfs/bank0/line$n"
	echo "GPIO$n" > "$cfs/bank0/line$n/name"
done
echo 1 > "$cfs/live"
udevadm settle
chip=$(ls -d /sys/devices/platform/gpio-sim.*/gpiochip* | head -n 1)
say "gpio-sim chip $(basename "$chip"), /dev/$(basename "$chip") is $(stat -c '%G %a' "/dev/$(basename "$chip")")"

# A script that leaves two processes behind: one in the background, one that
# left the process group (setsid); it prints their pids.
install -m 0755 "$p/siot-escape" /usr/local/bin/siot-escape
install -m 0755 "$p/siot-slow" /usr/local/bin/siot-slow
install -m 0640 -o root -g siot "$p/siot.conf" /etc/siot.conf
install -m 0640 -o root -g siot "$p/alice.key" /etc/siot/keys/alice.key
systemctl daemon-reload
if [ -f "$p/siotd-mqtt.conf" ]; then
	# A device that serves only through a broker (listen = [] in its
	# siot.conf): the shipped drop-in, the socket masked and the service
	# enabled to run from boot, as siotd(8) says.
	install -D -m 0644 "$p/siotd-mqtt.conf" /etc/systemd/system/siotd.service.d/mqtt.conf
	# The units where a package puts them: /etc holds only the admin's
	# changes (masking a unit that has a file in /etc fails).
	mv /etc/systemd/system/siotd.socket /etc/systemd/system/siotd.service /usr/lib/systemd/system/
	systemctl mask siotd.socket
	systemctl daemon-reload
	systemctl enable --now siotd.service
else
	systemctl enable --now siotd.socket
fi

start_agent

trap - EXIT
say "READY"
