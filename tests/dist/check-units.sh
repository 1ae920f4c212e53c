#!/bin/sh
# Usage: check-units.sh SIOTD SERVICE SOCKET MQTT-DROPIN
# systemd-analyze verify on the units (ExecStart pointed at the built
# siotd, since verify wants the binary to exist), then the offline security
# assessment of the service, whose exposure must be at most 1.0, and of the
# service with the drop-in for a broker (siotd-mqtt.conf): at most 2.0.
set -eu
siotd=$1 service=$2 socket=$3 dropin=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=.*|ExecStart=$siotd|" "$service" > "$dir/siotd.service"
cp "$socket" "$dir/siotd.socket"
cd "$dir"
systemd-analyze verify --man=no ./siotd.socket ./siotd.service
echo "systemd-analyze verify: clean"
systemd-analyze security --offline=yes --no-pager ./siotd.service > security.txt 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for siotd.service: \([0-9.]*\).*/\1/p' security.txt)
[ -n "$exposure" ] || { cat security.txt; echo "no exposure level found" >&2; exit 1; }
grep -E '^✗' security.txt || true
echo "exposure of siotd.service: $exposure (at most 1.0 required)"
awk -v e="$exposure" 'BEGIN { exit !(e <= 1.0) }'

# With the drop-in for a broker.
mkdir siotd.service.d
cp "$dropin" siotd.service.d/mqtt.conf
systemd-analyze verify --man=no ./siotd.socket ./siotd.service
systemd-analyze security --offline=yes --no-pager ./siotd.service > security-mqtt.txt 2>&1 || true
mqtt=$(sed -n 's/.*Overall exposure level for siotd.service: \([0-9.]*\).*/\1/p' security-mqtt.txt)
[ -n "$mqtt" ] || { cat security-mqtt.txt; echo "no exposure level found (drop-in)" >&2; exit 1; }
grep -q '^✗ PrivateNetwork=' security-mqtt.txt ||
	{ echo "the drop-in was not applied" >&2; exit 1; }
echo "exposure of siotd.service with siotd-mqtt.conf: $mqtt (at most 2.0 required)"
awk -v e="$mqtt" 'BEGIN { exit !(e <= 2.0) }'
