#!/bin/bash
# Usage: tests/qemu-user/run.sh SOURCE_DIR ARCH SUITE...
#
# The README's test command on a Raspberry Pi's architectures: a Debian 13
# root file system of ARCH (arm64, as 64-bit Raspberry Pi OS runs, its
# default; armhf, as the 32-bit one does), by debootstrap and cached, run
# through qemu-user-static's binfmt handler; in it, .ci/install-deps, a
# -Dwerror=true build, and the SUITEs (CI: unit, integration and node on
# arm64; unit and integration on armhf).  Debian 13 because it is what
# Raspberry Pi OS is built on and its Node.js is new enough for the Node.js
# client.  The vm and package suites need a kernel and a real dpkg root of
# their own and stay amd64.  Prints how long each step took, as ARCH: ...
#
# Needs root (chroot, mounts, binfmt_misc), debootstrap and
# qemu-user-static; exits 77 (skipped) without them, except in CI.
set -euo pipefail
src=$(cd "$1" && pwd)
arch=$2
shift 2
suites=("$@")
case $arch in
armhf) qemu=qemu-arm ;;
arm64) qemu=qemu-aarch64 ;;
*) echo "usage: run.sh SOURCE_DIR armhf|arm64 SUITE..."; exit 2 ;;
esac
[ ${#suites[@]} -gt 0 ] || { echo "usage: run.sh SOURCE_DIR ARCH SUITE..."; exit 2; }

skip() {
	[ -n "${CI:-}" ] && { echo "FAIL: $1 (CI must run the $arch suites)"; exit 1; }
	echo "SKIP: $1"
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (chroot, mounts, binfmt_misc)"
command -v debootstrap >/dev/null || skip "needs debootstrap"
[ -e /usr/lib/binfmt.d/$qemu.conf ] || skip "needs qemu-user-static"

# The binfmt handler: qemu-user-static ships it for systemd-binfmt; where
# no systemd registers it (a container), register it here.  Its F flag
# opens the interpreter now, so the root needs no copy of it.
binfmt=/proc/sys/fs/binfmt_misc
# (Two runs may start side by side: the second may find the first's mount
# and handler already there.)
if [ ! -e "$binfmt/register" ]; then
	mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || [ -e "$binfmt/register" ] ||
		skip "cannot mount binfmt_misc"
fi
if [ ! -e "$binfmt/$qemu" ]; then
	grep -v '^#' /usr/lib/binfmt.d/$qemu.conf > "$binfmt/register" 2>/dev/null ||
		[ -e "$binfmt/$qemu" ] || skip "cannot register the $qemu binfmt handler"
fi
grep -qx enabled "$binfmt/$qemu" || skip "the $qemu binfmt handler is not enabled"

# The mirror this machine uses, from its own apt sources.
mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { echo "cannot tell the apt mirror"; exit 1; }
suite=trixie

work=$(mktemp -d /tmp/siot-$arch.XXXXXX)
root=$work/root
cleanup() {
	for m in sys dev/pts dev proc ""; do
		mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT
step_start=$(date +%s)
step() { # name: how long the step before it took
	local now
	now=$(date +%s)
	echo "$arch: ${1}: $((now - step_start)) s"
	step_start=$now
}

cache=${SIOT_TEST_CACHE:-/var/cache/siot-tests}
tarball=$cache/debootstrap-$suite-$arch-minbase.tar
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
	echo "== a $suite $arch root file system (debootstrap under $qemu; cached)"
	debootstrap --arch=$arch --variant=minbase "$suite" "$work/fresh" "$mirror" \
		> "$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log"; exit 1; }
	tar -C "$work/fresh" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	rm -rf "$work/fresh"
	step "debootstrap (cold)"
fi
# The root with the build dependencies installed (install-deps takes
# minutes under emulation): cached too, keyed by install-deps itself and
# the packages added here.  The tests' own tools come as install-deps
# arguments, as .ci/run adds them on the host: openssh for the Home
# Assistant test's sshd route (it fails in CI when they are missing).
root_packages="openssh-server openssh-client"
deps_key=$( (cat "$src/.ci/install-deps"; echo "$root_packages") | sha256sum | cut -c1-12)
deps_tarball=$cache/$arch-$suite-deps-$deps_key.tar
# A root cached for an earlier install-deps is a better start than a bare
# one: install-deps then adds only what changed (a package more takes
# seconds, a cold install a quarter of an hour), and the result is cached
# under the new key.
older=$(ls -t "$cache"/"$arch"-"$suite"-deps-*.tar 2>/dev/null | head -n 1 || true)
mkdir "$root"
if [ -s "$deps_tarball" ]; then
	tar -C "$root" -xf "$deps_tarball"
	have_deps=1
elif [ -n "$older" ] && [ -s "$older" ]; then
	echo "$arch: starting from $(basename "$older"), made by an earlier install-deps"
	tar -C "$root" -xf "$older"
	have_deps=0
else
	tar -C "$root" -xf "$tarball"
	have_deps=0
fi
# The root a mount point of its own, so that unshare -m inside it (the
# journal test) can make its mounts private.
mount --bind "$root" "$root"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t proc proc "$root/proc"
# The host's /sys with its cgroup mounts, for the cgroup tests.
mount --rbind /sys "$root/sys"
mkdir -p "$root/run/systemd"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
step "root unpacked"

echo "== the source tree, as git knows it"
mkdir "$root/src"
(cd "$src" && git ls-files -z -co --exclude-standard 2>/dev/null || find . -path ./build\* -prune -o -type f -print0) |
	(cd "$src" && tar --ignore-failed-read --null -T - -cf - 2>/dev/null) | tar -C "$root/src" -xf -
# The test vectors live beside the tree, as in CI.
if [ -d "$src/../shared" ]; then
	mkdir -p "$root/shared"
	cp -r "$src/../shared/." "$root/shared/"
fi

# A machine whose TLS goes through a CA of its own names it for Node.js in
# NODE_EXTRA_CA_CERTS (npm fetches the type checker's packages): the root
# trusts it too.
extra_env=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r "$NODE_EXTRA_CA_CERTS" ]; then
	mkdir -p "$root/etc/ssl/host"
	cp "$NODE_EXTRA_CA_CERTS" "$root/etc/ssl/host/extra-ca.crt"
	extra_env+=(NODE_EXTRA_CA_CERTS=/etc/ssl/host/extra-ca.crt)
fi
in_root() {
	chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive CI="${CI:-}" SIOT_QEMU_USER=1 "${extra_env[@]}" "$@"
}
echo "== .ci/install-deps ($arch)"
# Run even on the cached root: it is quick when everything is there, and
# it is the README's step.
in_root sh -c "cd /src && .ci/install-deps $root_packages" > "$work/deps.log" 2>&1 || { tail -n 40 "$work/deps.log"; exit 1; }
echo "$(in_root uname -m), gcc $(in_root gcc -dumpversion), Node.js $(in_root node --version)"
step "install-deps$([ "$have_deps" = 1 ] && echo " (cached root)")"
if [ "$have_deps" = 0 ]; then
	# Keep the root as it is now (without the source tree) for next time.
	rm -f "$cache"/"$arch"-"$suite"-deps-*.tar
	tar -C "$root" --exclude=./src --exclude=./shared --exclude='./proc/*' --exclude='./sys/*' \
		--exclude='./dev/*' -cf "$deps_tarball.tmp" . && mv "$deps_tarball.tmp" "$deps_tarball"
	step "root with dependencies cached"
fi
echo "== build"
in_root sh -c 'cd /src && meson setup build -Dwerror=true > /dev/null && meson compile -C build' \
	> "$work/build.log" 2>&1 || { tail -n 60 "$work/build.log"; exit 1; }
grep -c "warning" "$work/build.log" | sed 's/^/compiler warnings: /' || true
step "build"
echo "== the suites: ${suites[*]}"
rc=0
args=""
for s in "${suites[@]}"; do args="$args --suite $s"; done
# Not the TypeScript check (suite typecheck): it reads the source, the same
# on every architecture, and under qemu-user it took 163 s. Check's own
# per-test timeouts scale by CK_TIMEOUT_MULTIPLIER: meson's multiplier does
# not reach them, and emulation with the other architecture beside it runs
# a loop of every split past Check's default 4 s.
in_root sh -c "cd /src && CK_TIMEOUT_MULTIPLIER=4 meson test -C build $args --no-suite typecheck --print-errorlogs \
	--timeout-multiplier 4" || rc=$?
step "suites"
# The results, for the caller's tally.
[ -z "${QEMU_TESTLOG:-}" ] || cp "$root/src/build/meson-logs/testlog.json" "$QEMU_TESTLOG"
exit $rc
