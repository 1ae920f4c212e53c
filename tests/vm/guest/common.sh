# Sourced by the payload's guest-setup.sh (either kind): messages on the
# serial console, a failure marker the host watches for, and the network
# behind QEMU's port forwards.
say() { echo "siot-vm: $*" > /dev/ttyS0; }
trap 'say "SETUP-FAILED (see the console above)"' EXIT

ifc=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
ip link set lo up
ip link set "$ifc" up
ip addr add 10.0.2.15/24 dev "$ifc"

# The test agent, on port 7000 (socat waits up to 60 s for slow answers).
start_agent() {
	install -m 0755 "$p/vm-agent" /usr/local/bin/vm-agent
	systemd-run --unit=vm-agent --property=Type=simple \
		socat -t 60 TCP-LISTEN:7000,fork,reuseaddr EXEC:/usr/local/bin/vm-agent
}
