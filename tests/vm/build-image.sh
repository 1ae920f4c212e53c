#!/bin/bash
# Build (once) and cache what the vm suite boots: a Debian root file system
# image with systemd, udev, the GPIO tools and the libraries siotd links,
# the kernel and initramfs it installed, and the kernel's gpio-sim driver
# built as an out-of-tree module (Debian's kernel has GPIOLIB and the
# character device, but not gpio-sim).  Everything comes from this machine's
# apt mirror; the cache key is the suite, the kernel version and this
# script's contents.
#
# Usage: build-image.sh CACHE_DIR   (prints the folder holding the result)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=$1
mkdir -p "$cache"

mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '{ print $1 }' | grep -v -- '-security' | head -n 1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
# The key changes with this script, the guest unit, and the kernel the
# archive offers (what debootstrap would install).
kernel_offer=$(apt-cache policy linux-image-amd64 2>/dev/null | sed -n 's/^ *Candidate: //p')
key=$( (cat "$here/build-image.sh" "$here/guest/siot-vm-setup.service"; echo "$kernel_offer") |
	sha256sum | cut -c1-12)
out=$cache/vm-$suite-$key
if [ -f "$out/done" ]; then
	echo "$out"
	exit 0
fi
log() { echo "build-image: $*" >&2; }

tmp=$out.tmp
root=$tmp/root
rm -rf "$tmp"
mkdir -p "$tmp"
cleanup() {
	for m in dev/pts dev proc sys; do
		mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
	done
	return 0
}
trap cleanup EXIT

log "debootstrap $suite from $mirror (about a minute)"
debootstrap --variant=minbase \
	--include=systemd,systemd-sysv,udev,kmod,iproute2,socat,procps,linux-image-amd64,initramfs-tools,libsodium23,libconfig9,libmosquitto1 \
	"$suite" "$root" "$mirror" > "$tmp/debootstrap.log" 2>&1 || { tail -n 30 "$tmp/debootstrap.log" >&2; exit 1; }
mount --bind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
gpiod_target=()
if [ "$suite" = bookworm ]; then
	echo "deb $mirror bookworm-backports main" > "$root/etc/apt/sources.list.d/backports.list"
	gpiod_target=(-t bookworm-backports)
fi
log "libgpiod v2 in the guest"
in_root apt-get update -q > "$tmp/apt.log" 2>&1
in_root apt-get install -y -q --no-install-recommends "${gpiod_target[@]}" libgpiod3 gpiod >> "$tmp/apt.log" 2>&1 ||
	{ tail -n 30 "$tmp/apt.log" >&2; exit 1; }
in_root apt-get clean

# Boot straight to a shell-less multi-user system that runs the payload.
install -m 0644 "$here/guest/siot-vm-setup.service" "$root/etc/systemd/system/"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf ../siot-vm-setup.service "$root/etc/systemd/system/multi-user.target.wants/siot-vm-setup.service"
echo siot-vm > "$root/etc/hostname"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
cleanup

kver=$(ls "$root/lib/modules" | head -n 1)
log "kernel $kver; building gpio-sim against its headers"
if [ ! -d "/usr/src/linux-headers-$kver" ]; then
	apt-get install -y -q --no-install-recommends "linux-headers-$kver" > "$tmp/headers.log" 2>&1 ||
		{ tail -n 20 "$tmp/headers.log" >&2; exit 1; }
fi
src=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | head -n 1 || true)
if [ -z "$src" ]; then
	apt-get install -y -q --no-install-recommends "linux-source-${kver%%.0-*}" > "$tmp/source.log" 2>&1 ||
		{ tail -n 20 "$tmp/source.log" >&2; exit 1; }
	src=$(ls /usr/src/linux-source-*.tar.xz | head -n 1)
fi
mod=$tmp/gpio-sim
mkdir -p "$mod"
top=$(basename "$src" .tar.xz)
tar -C "$mod" -xJf "$src" "$top/drivers/gpio/gpio-sim.c" "$top/drivers/gpio/gpiolib.h" "$top/kernel/irq/irq_sim.c"
mv "$mod/$top/drivers/gpio/gpio-sim.c" "$mod/gpio-sim-main.c"
mv "$mod/$top/drivers/gpio/gpiolib.h" "$mod/"
# irq_to_desc() is not exported to modules; generic_handle_irq() is.
sed 's/handle_simple_irq(irq_to_desc(\([a-z_]*\)))/generic_handle_irq(\1)/' \
	"$mod/$top/kernel/irq/irq_sim.c" > "$mod/irq_sim.c"
grep -q generic_handle_irq "$mod/irq_sim.c" || { log "irq_sim.c: the expected line was not found"; exit 1; }
rm -rf "${mod:?}/$top"
printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n' > "$mod/Kbuild"
make -C "/usr/src/linux-headers-$kver" M="$mod" modules > "$tmp/module.log" 2>&1 ||
	{ tail -n 30 "$tmp/module.log" >&2; exit 1; }

cp "$root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$tmp/initrd.img"
cp "$mod/gpio-sim.ko" "$tmp/gpio-sim.ko"
echo "$kver" > "$tmp/kernel-version"
log "root file system image"
mkfs.ext4 -q -F -L siot-root -d "$root" "$tmp/rootfs.ext4" 1536M
rm -rf "$root" "$mod"
touch "$tmp/done"
rm -rf "$out"
mv "$tmp" "$out"
echo "$out"
