#!/bin/bash
# Build the Debian package from packaging/debian, lint it, install it into a
# fresh Debian root file system (debootstrap, cached), check what it put
# there, run siotd --check-config on the shipped configuration, purge it and
# check that nothing is left.
#
# Usage: test-package.sh SOURCE_DIR
# Needs root (chroot, mounts), debootstrap, dpkg-buildpackage, lintian and
# the Debian mirror named in this machine's apt sources.  Exits 77 (skipped)
# when not root.
set -euo pipefail
src=$(cd "$1" && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: the package test needs root (chroot and mounts); CI runs it as root"
	exit 77
fi
for tool in debootstrap dpkg-buildpackage lintian dh; do
	if ! command -v $tool >/dev/null; then
		msg="missing $tool (apt-get install debootstrap dpkg-dev debhelper fakeroot lintian; .ci/run does)"
		[ -n "${CI:-}" ] && { echo "FAIL: $msg"; exit 1; }
		echo "SKIP: $msg"
		exit 77
	fi
done

# The mirror and suite this machine uses, from its own apt sources.
mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
[ -n "$mirror" ] && [ -n "$suite" ] || { echo "cannot tell the apt mirror or suite"; exit 1; }

work=$(mktemp -d /tmp/siot-package.XXXXXX)
root=$work/root
cleanup() {
	for m in dev/pts dev proc sys; do
		mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT

echo "== build (dpkg-buildpackage -us -uc -b)"
deb=$("$(dirname "$0")/build-deb.sh" "$src" "$work")
echo "built $(basename "$deb")"

echo "== lintian"
lintian --fail-on error,warning "$work"/siot_*.changes | tee "$work/lintian.txt"
echo "lintian: no errors, no unexplained warnings"

echo "== a fresh $suite root file system"
cache=${SIOT_TEST_CACHE:-/var/cache/siot-tests}
tarball=$cache/debootstrap-$suite-minbase.tar
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
	mkdir "$work/fresh"
	debootstrap --variant=minbase "$suite" "$work/fresh" "$mirror" > "$work/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$work/debootstrap.log"; exit 1; }
	tar -C "$work/fresh" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	rm -rf "$work/fresh"
fi
mkdir "$root"
tar -C "$root" -xf "$tarball"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

if [ "$suite" = bookworm ]; then
	# libgpiod v2 is in bookworm-backports: the same mirror as the root's.
	echo "deb $mirror bookworm-backports main" > "$root/etc/apt/sources.list.d/backports.list"
fi

echo "== apt install ./$(basename "$deb")"
cp "$deb" "$root/tmp/"
in_root apt-get update -q > "$work/apt.log" 2>&1 || { cat "$work/apt.log"; exit 1; }
in_root apt-get install -y -q "/tmp/$(basename "$deb")" >> "$work/apt.log" 2>&1 ||
	{ tail -n 40 "$work/apt.log"; exit 1; }

fail=0
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAILED: $what"
		fail=1
	fi
}
# Mode and owner names as the fresh root resolves them (not this host).
stat_is() {
	set -- "$1" "$2" "$(stat -c '%a %u %g' "$root$1")"
	local mode=${3%% *} ids=${3#* } user group
	user=$(chroot "$root" getent passwd "${ids% *}" | cut -d: -f1)
	group=$(chroot "$root" getent group "${ids#* }" | cut -d: -f1)
	[ "$mode $user $group" = "$2" ] || { echo "  $1 is $mode $user $group"; return 1; }
}

check "siotd installed, 755 root" stat_is /usr/sbin/siotd "755 root root"
check "siot-ctl installed, 755 root" stat_is /usr/bin/siot-ctl "755 root root"
check "/etc/siot.conf is 640 root:siot" stat_is /etc/siot.conf "640 root siot"
check "/etc/siot is 750 root:siot" stat_is /etc/siot "750 root siot"
check "/etc/siot/keys is 750 root:siot" stat_is /etc/siot/keys "750 root siot"
check "/etc/siot.conf is a conffile" grep -qx ' */etc/siot.conf [0-9a-f]*' <(in_root dpkg-query -W -f='${Conffiles}\n' siot)
check "user siot exists" in_root getent passwd siot
check "group gpio exists, siot a member" sh -c "chroot '$root' getent group gpio | grep -q siot"
check "siotd.socket enabled" test -L "$root/etc/systemd/system/sockets.target.wants/siotd.socket"
check "siotd.service not enabled on its own" sh -c "! ls '$root'/etc/systemd/system/*.wants/siotd.service 2>/dev/null | grep -q ."
check "units installed" test -f "$root/lib/systemd/system/siotd.service" -o -f "$root/usr/lib/systemd/system/siotd.service"
for page in man1/siot-ctl.1 man5/siot.conf.5 man7/siot-protocol.7 man8/siotd.8; do
	check "man page $page" test -f "$root/usr/share/man/$page.gz"
done
check "no key in the shipped configuration" sh -c "! grep -Eq '^[[:space:]]*\\{ *id' '$root/etc/siot.conf'"
check "siotd --check-config on the shipped configuration" in_root /usr/sbin/siotd --check-config
in_root /usr/sbin/siotd --check-config
check "siot-ctl keygen works" sh -c "chroot '$root' siot-ctl keygen | grep -Eq '^[A-Za-z0-9+/]{43}=$'"

echo "== purge"
in_root dpkg-query -L siot | sort > "$work/files"
in_root apt-get purge -y -q siot >> "$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log"; exit 1; }
left=0
while read -r f; do
	# Folders shared with other packages (/etc, /usr/share/man, ...) stay.
	if [ -e "$root$f" ] && [ ! -d "$root$f" ]; then
		echo "left behind: $f"
		left=1
	fi
done < "$work/files"
for f in /etc/siot /etc/siot.conf /etc/systemd/system/sockets.target.wants/siotd.socket; do
	if [ -e "$root$f" ] || [ -L "$root$f" ]; then
		echo "left behind: $f"
		left=1
	fi
done
check "nothing of the package is left after purge" test $left -eq 0
echo "(the system user siot stays, as Debian does with system users)"

[ $fail -eq 0 ] || exit 1
echo "package test: all checks passed"
