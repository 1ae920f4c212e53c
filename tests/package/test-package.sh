#!/bin/bash
# For each of Debian 12 (bookworm) and 13 (trixie): build the Debian
# packages (siotd, siot-ctl and the transitional siot) with
# packaging/build-debs in a fresh root file system of that release
# (debootstrap, cached), as a new user would on a fresh device; lint them;
# and in fresh roots of the same release install siot-ctl alone, siotd
# alone, then both, checking what each put there (and what siot-ctl did
# not); upgrade from the single siot 0.1.0 package (tests/package/siot-0.1.0,
# built here) with a key and an edited configuration, which must survive;
# purge, which must leave the administrator's key files and nothing of the
# packages.
#
# Usage: test-package.sh SOURCE_DIR [SUITE...]   (default: bookworm trixie)
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
[ -n "$mirror" ] || { echo "cannot tell the apt mirror"; exit 1; }
shift
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie)

roots=()
work=$(mktemp -d /tmp/siot-package.XXXXXX)
cleanup() {
	for r in "${roots[@]}"; do
		for m in dev/pts dev proc sys; do
			mountpoint -q "$r/$m" 2>/dev/null && umount -l "$r/$m"
		done
	done
	rm -rf "$work"
}
trap cleanup EXIT

cache=${SIOT_TEST_CACHE:-/var/cache/siot-tests}
mkdir -p "$cache"
# A fresh root file system of $suite in $root (debootstrap once, then from
# the cache), mounted, with the packages to install in /tmp.
new_root() {
	local tarball=$cache/debootstrap-$suite-minbase.tar
	if [ ! -s "$tarball" ]; then
		echo "(debootstrap $suite, to $tarball)"
		mkdir "$work/fresh"
		debootstrap --variant=minbase "$suite" "$work/fresh" "$mirror" > "$work/debootstrap.log" 2>&1 ||
			{ tail -n 30 "$work/debootstrap.log"; exit 1; }
		tar -C "$work/fresh" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
		rm -rf "$work/fresh"
	fi
	root=$work/root-$suite-$1
	roots+=("$root")
	mkdir "$root"
	tar -C "$root" -xf "$tarball"
	mount --bind /dev "$root/dev"
	mount --bind /dev/pts "$root/dev/pts"
	mount -t proc proc "$root/proc"
	mount -t sysfs sysfs "$root/sys"
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
	if [ "$suite" = bookworm ]; then
		# libgpiod v2 is in bookworm-backports: the same mirror as the root's.
		echo "deb $mirror bookworm-backports main" > "$root/etc/apt/sources.list.d/backports.list"
	fi
	[ -z "${deb_siotd:-}" ] || cp "$deb_siotd" "$deb_ctl" "$deb_siot" "$deb_old" "$root/tmp/"
	in_root apt-get update -q > "$work/apt.log" 2>&1 || { cat "$work/apt.log"; exit 1; }
}

# packaging/build-debs in a fresh root of $suite: the packages, into
# $work/debs-$suite.  The root as it is after the build's dependencies is
# cached (keyed by what decides them), so a later run only builds.
build_in_root() {
	local key deps
	key=$(cat "$src/packaging/debian/control" "$src/packaging/build-debs" "$src/.ci/debian-mirror" |
		sha256sum | cut -c1-12)
	deps=$cache/build-$suite-$key.tar
	deb_siotd=
	root=$work/root-$suite-build
	roots+=("$root")
	mkdir "$root"
	if [ -s "$deps" ]; then
		tar -C "$root" -xf "$deps"
		mount --bind /dev "$root/dev"
		mount --bind /dev/pts "$root/dev/pts"
		mount -t proc proc "$root/proc"
		mount -t sysfs sysfs "$root/sys"
	else
		rmdir "$root"
		roots=("${roots[@]:0:${#roots[@]}-1}")
		new_root build
	fi
	mkdir "$root/src"
	(cd "$src" && git ls-files -z -co --exclude-standard 2>/dev/null ||
		find . -path ./build\* -prune -o -type f -print0) |
		(cd "$src" && tar --ignore-failed-read --null -T - -cf - 2>/dev/null) | tar -C "$root/src" -xf -
	# As a new user types it, as root (no sudo there).
	if ! in_root sh -c 'cd /tmp && /src/packaging/build-debs /debs' > "$work/build-$suite.log" 2>&1; then
		tail -n 40 "$work/build-$suite.log"
		exit 1
	fi
	# The siot 0.1.0 package (before the split), to upgrade from: built for
	# this release too, as its users had it.
	if ! in_root env DEB_BUILD_OPTIONS=nocheck /src/tests/package/build-deb.sh /src /old \
		/src/tests/package/siot-0.1.0 > "$work/old-$suite.log" 2>&1; then
		tail -n 40 "$work/old-$suite.log"
		exit 1
	fi
	if [ ! -s "$deps" ]; then
		rm -f "$cache"/build-"$suite"-*.tar
		tar -C "$root" --exclude=./src --exclude=./debs --exclude='./proc/*' --exclude='./sys/*' \
			--exclude='./dev/*' --exclude=./old -cf "$deps.tmp" . && mv "$deps.tmp" "$deps"
	fi
	mkdir "$work/debs-$suite"
	cp "$root"/debs/*.deb "$root"/debs/*.changes "$root"/debs/*.buildinfo "$work/debs-$suite/"
	mkdir "$work/old-$suite"
	cp "$root"/old/siot_0.1.0_*.deb "$work/old-$suite/"
	deb_old=$(ls "$work/old-$suite"/siot_0.1.0_*.deb)
	ls "$work/debs-$suite"/*.deb "$deb_old" | grep -v -- '-dbgsym_' | sed 's|.*/|built |'
	deb_siotd=$(ls "$work/debs-$suite"/siotd_*.deb)
	deb_ctl=$(ls "$work/debs-$suite"/siot-ctl_*.deb)
	deb_siot=$(ls "$work/debs-$suite"/siot_*.deb)
}
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
apt_install() { # the packages' file names in /tmp
	local args=()
	for f in "$@"; do args+=("/tmp/$(basename "$f")"); done
	# --force-confold: an edited /etc/siot.conf is kept, as an upgrade must.
	in_root apt-get install -y -q -o Dpkg::Options::=--force-confold "${args[@]}" \
		>> "$work/apt.log" 2>&1 || { tail -n 40 "$work/apt.log"; exit 1; }
}

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
absent() { ! test -e "$root$1" && ! test -L "$root$1"; }
# Mode and owner names as the fresh root resolves them (not this host).
stat_is() {
	set -- "$1" "$2" "$(stat -c '%a %u %g' "$root$1")"
	local mode=${3%% *} ids=${3#* } user group
	user=$(chroot "$root" getent passwd "${ids% *}" | cut -d: -f1)
	group=$(chroot "$root" getent group "${ids#* }" | cut -d: -f1)
	[ "$mode $user $group" = "$2" ] || { echo "  $1 is $mode $user $group"; return 1; }
}
installed() { in_root dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
not_installed() { ! installed "$1"; }
# What siotd puts on a machine.
check_siotd() {
	check "siotd installed, 755 root" stat_is /usr/sbin/siotd "755 root root"
	check "/etc/siot.conf is 640 root:siot" stat_is /etc/siot.conf "640 root siot"
	check "/etc/siot is 750 root:siot" stat_is /etc/siot "750 root siot"
	check "/etc/siot/keys is 750 root:siot" stat_is /etc/siot/keys "750 root siot"
	check "/etc/siot.conf is siotd's conffile" grep -qx ' */etc/siot.conf [0-9a-f]*' \
		<(in_root dpkg-query -W -f='${Conffiles}\n' siotd)
	check "user siot exists" in_root getent passwd siot
	check "group gpio exists, siot a member" sh -c "chroot '$root' getent group gpio | grep -q siot"
	check "the udev rule for GPIO chips" test -f "$root/usr/lib/udev/rules.d/60-siot-gpio.rules"
	check "siotd.socket enabled" test -L "$root/etc/systemd/system/sockets.target.wants/siotd.socket"
	check "siotd.service not enabled on its own" \
		sh -c "! ls '$root'/etc/systemd/system/*.wants/siotd.service 2>/dev/null | grep -q ."
	check "units installed" test -f "$root/lib/systemd/system/siotd.service" -o \
		-f "$root/usr/lib/systemd/system/siotd.service"
	for page in man5/siot.conf.5 man8/siotd.8; do
		check "man page $page" test -f "$root/usr/share/man/$page.gz"
	done
}

for suite in "${suites[@]}"; do
	echo "== $suite: packaging/build-debs in a fresh root"
	build_in_root
	echo "== $suite: lintian"
	lintian --fail-on error,warning "$work/debs-$suite"/siot_*.changes | tee "$work/lintian-$suite.txt"
	echo "lintian: no errors, no unexplained warnings"
	echo "== siot-ctl alone (a laptop)"
	new_root ctl
	apt_install "$deb_ctl"
	check "siot-ctl installed, 755 root" stat_is /usr/bin/siot-ctl "755 root root"
	check "siot-ctl keygen works" sh -c "chroot '$root' siot-ctl keygen 2>/dev/null | grep -Eq '^[A-Za-z0-9+/]{43}=$'"
	for page in man1/siot-ctl.1 man7/siot-protocol.7; do
		check "man page $page" test -f "$root/usr/share/man/$page.gz"
	done
	check "siotd was not pulled in" not_installed siotd
	check "no siot user" sh -c "! chroot '$root' getent passwd siot"
	check "no udev rule" absent /usr/lib/udev/rules.d/60-siot-gpio.rules
	check "no socket unit, nothing listening" absent /etc/systemd/system/sockets.target.wants/siotd.socket
	check "no /etc/siot.conf" absent /etc/siot.conf
	in_root apt-get purge -y -q siot-ctl >> "$work/apt.log" 2>&1
	check "siot-ctl purged, nothing left" absent /usr/bin/siot-ctl

	echo "== siotd alone (a device), then both"
	new_root both
	apt_install "$deb_siotd"
	check_siotd
	check "siot-ctl was not pulled in" not_installed siot-ctl
	check "siotd --check-config on the shipped configuration" in_root /usr/sbin/siotd --check-config
	in_root /usr/sbin/siotd --check-config
	apt_install "$deb_ctl"
	check "siot-ctl beside siotd" stat_is /usr/bin/siot-ctl "755 root root"
	echo "== purge, with a key the administrator put in /etc/siot/keys"
	in_root siot-ctl keygen -o /etc/siot/keys/alice.key > /dev/null
	in_root dpkg-query -L siotd siot-ctl | sort > "$work/files"
	in_root apt-get purge -y -q siotd siot-ctl >> "$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log"; exit 1; }
	left=0
	while read -r f; do
		# Folders shared with other packages (/etc, /usr/share/man, ...) stay,
		# and /etc/siot with the administrator's key in it.
		case $f in /etc/siot | /etc/siot/keys) continue ;; esac
		if [ -e "$root$f" ] && [ ! -d "$root$f" ]; then
			echo "left behind: $f"
			left=1
		fi
	done < "$work/files"
	for f in /etc/siot.conf /etc/systemd/system/sockets.target.wants/siotd.socket; do
		absent "$f" || { echo "left behind: $f"; left=1; }
	done
	check "nothing of the packages is left after purge" test $left -eq 0
	check "the administrator's key is kept" test -s "$root/etc/siot/keys/alice.key"
	echo "(the system user siot stays, as Debian does with system users)"

	echo "== upgrade from siot 0.1.0, with a key and an edited configuration"
	new_root upgrade
	apt_install "$deb_old"
	check "siot 0.1.0 installed" sh -c "chroot '$root' dpkg-query -W -f='\${Version}' siot | grep -qx 0.1.0"
	in_root siot-ctl keygen -o /etc/siot/keys/alice.key > /dev/null
	chroot "$root" chgrp siot /etc/siot/keys/alice.key
	chroot "$root" chmod 640 /etc/siot/keys/alice.key
	key_before=$(cat "$root/etc/siot/keys/alice.key")
	cat > "$root/etc/siot.conf" <<-'CONF'
	# edited by the administrator
	clients  = ( { id = "alice"; key_file = "/etc/siot/keys/alice.key"; } );
	commands = ( { name = "uptime"; exec = [ "/usr/bin/uptime" ]; output = true; } );
	CONF
	conf_before=$(cat "$root/etc/siot.conf")
	apt_install "$deb_siot" "$deb_siotd" "$deb_ctl"
	all_three() { installed siotd && installed siot-ctl && installed siot; }
	check "siotd, siot-ctl and the transitional siot are installed" all_three
	check "the key is kept" test "$(cat "$root/etc/siot/keys/alice.key")" = "$key_before"
	check "the edited configuration is kept" test "$(cat "$root/etc/siot.conf")" = "$conf_before"
	check_siotd
	check "siotd --check-config reads the kept configuration and key" in_root /usr/sbin/siotd --check-config
	in_root /usr/sbin/siotd --check-config
	in_root apt-get purge -y -q siot siotd siot-ctl >> "$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log"; exit 1; }
	check "after purging all three, the key is still there" test "$(cat "$root/etc/siot/keys/alice.key")" = "$key_before"
	check "and the configuration is gone" absent /etc/siot.conf
done

[ $fail -eq 0 ] || exit 1
echo "package test: all checks passed (${suites[*]})"
