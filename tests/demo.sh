#!/bin/sh
# The demo: siotd on loopback with conf/demo.conf and fresh keys, and
# siot-ctl sending it commands.  Usage: tests/demo.sh [BUILD_DIR]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
siotd=$build/src/siotd/siotd
ctl=$build/src/siot-ctl/siot-ctl
[ -x "$siotd" ] && [ -x "$ctl" ] || { echo "demo: build first (meson compile -C $build)" >&2; exit 1; }

work=$build/demo
rm -rf "$work"
mkdir -p "$work/demo-keys"
cp "$src/conf/demo.conf" "$work/demo.conf"
"$ctl" keygen -o "$work/demo-keys/alice.key" >/dev/null
"$ctl" keygen -o "$work/demo-keys/guest.key" >/dev/null
"$ctl" keygen -o "$work/demo-keys/stranger.key" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/siot-ctl.conf" <<CONF
default = "demo";
targets = (
  { name = "demo";  host = "127.0.0.1"; port = $port; device = "demo"; id = "alice"; key_file = "$work/demo-keys/alice.key"; },
  { name = "guest"; host = "127.0.0.1"; port = $port; device = "demo"; id = "guest"; key_file = "$work/demo-keys/guest.key"; },
  { name = "stranger"; host = "127.0.0.1"; port = $port; id = "alice"; key_file = "$work/demo-keys/stranger.key"; }
);
CONF
export SIOT_CTL_CONFIG="$work/siot-ctl.conf"

export SIOTD_GPIO_SIM_DIR="$work/gpio"   # where the sim chip shows its lines
mkdir -p "$SIOTD_GPIO_SIM_DIR"
"$siotd" -c "$work/demo.conf" --listen "127.0.0.1:$port" 2>"$work/siotd.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT INT TERM
i=0
until grep -q 'ready:' "$work/siotd.log"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$work/siotd.log"; echo "demo: siotd did not start" >&2; exit 1; }
	kill -0 $pid 2>/dev/null || { cat "$work/siotd.log"; exit 1; }
	sleep 0.05
done

run() {
	echo
	echo "\$ siot-ctl $*"
	set +e
	"$ctl" "$@" 2>&1
	echo "(exit status $?)"
	set -e
}

echo "siotd runs on 127.0.0.1:$port as device \"demo\" (config: $work/demo.conf)"
echo
echo "siot-ctl reads its targets from \$SIOT_CTL_CONFIG, set here to $work/siot-ctl.conf;"
echo "yours would be ~/.config/siot/siot-ctl.conf.  'siot-ctl check' lists them:"
run check
run send date
run send kernel disk
run --json send date fail date
run -t guest send kernel
run -t stranger send date
run send nap

level() { cat "$SIOTD_GPIO_SIM_DIR/line$1"; }
echo
echo "GPIO on the simulated chip: lamp is line 3, garage line 4 (active low), door line 5."
echo "lamp (line 3) level now: $(level 3)"
run send lamp-on
echo "lamp (line 3) level now: $(level 3)"
run --json send lamp-toggle lamp-state
echo "lamp (line 3) level now: $(level 3)"
echo "garage (line 4, active low) level now: $(level 4)"
echo
echo "\$ siot-ctl send garage-open     (a 0.5 s pulse)"
"$ctl" send garage-open &
sleep 0.25
echo "garage (line 4) level during the pulse: $(level 4)"
wait $!
echo "(exit status $?)"
echo "garage (line 4) level after the pulse: $(level 4)"
run -t guest send door
echo 0 > "$SIOTD_GPIO_SIM_DIR/line5.in"
echo "(the door sensor now reads 0)"
run --json -t guest send door

kill $pid
wait $pid 2>/dev/null || true
trap - EXIT INT TERM
echo
echo "siotd's log:"
sed 's/^/  /' "$work/siotd.log"
