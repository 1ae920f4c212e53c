#!/usr/bin/env python3
"""Write a device's provisioned secrets as an EEPROM image (provision.h).

  provision.py --key KEYFILE --client-id ID --device-id ID
               (--avrdude "AVRDUDE OPTIONS" | -o IMAGE)
               [--profile v1|classic] [--wakeup N] [--timeout MS]
               [--size BYTES] [--boot N]
               [--ip ADDRESS [--netmask MASK] [--gateway ADDRESS]
                [--mac XX:XX:XX:XX:XX:XX] [--port N]]

The key file is a siot key file (siot-ctl keygen): hex or base64 on one
line.  The DRBG seed is 32 fresh bytes from the OS, drawn anew on every
run.  The image is --size bytes (default 1024, the ATmega328P's EEPROM),
erased (0xFF) past the layout.

An image is single-use.  A board draws its challenges from that seed and
its boot counter; written to a board a second time, the same image makes
the board draw the same challenges again, and a request recorded after the
first writing would run again.  So:

  --avrdude "-p m328p -c usbasp"   writes the EEPROM at once through avrdude
                                   (-U eeprom:w:-:r, the image on its
                                   standard input): no image is left on disk.
  -o IMAGE                         writes the image to a file (0600, replaced
                                   atomically, never through a symlink) whose
                                   name says single-use: ".single-use" is put
                                   before the extension unless the name has it.
                                   Write it to one board once, then delete it;
                                   the mps2 board's flash page is such a file.

A board on a network (an Ethernet image) reads its settings from the
image's network block, written when --ip is given: the IPv4 address, the
netmask (default 255.255.255.0), the gateway (default none), the MAC (default
a random locally administered one, 02:xx:xx:xx:xx:xx: give the shield's own
if it has a sticker) and the TCP port (default 7468).  With --ip the wake-up
may be 0, as on TCP (the HELLO on connect); a serial line needs 1 to 255.

A firmware update afterwards writes the flash only (-U flash:w:...), with
the EESAVE fuse set so that a chip erase keeps the EEPROM (README, "A
firmware update").  The image holds the key and the seed: keep it as
private as the key file.
"""
import argparse
import base64
import binascii
import ipaddress
import os
import re
import shlex
import stat
import struct
import subprocess
import sys
import tempfile

MAGIC = b'SIOT'
VERSION = 2
SIZE = 245  # provision.h's PROV_SIZE
NET = 224   # provision.h's PROV_OFF_NET: the network block
ID_RE = re.compile(r'^[A-Za-z0-9._-]{1,32}$')


def read_key(path):
    with open(path, 'rb') as f:
        text = f.read().decode('ascii').rstrip('\r\n')
    if '\n' in text:
        sys.exit(f'{path}: a key file holds one line')
    if re.fullmatch(r'[0-9A-Fa-f]{32,128}', text) and len(text) % 2 == 0:
        key = binascii.unhexlify(text)
    else:
        try:
            key = base64.b64decode(text, validate=True)
        except binascii.Error:
            sys.exit(f'{path}: not hex or base64')
    if not 16 <= len(key) <= 64:
        sys.exit(f'{path}: a key is 16 to 64 bytes, this one {len(key)}')
    return key


def single_use_name(path):
    """path, with ".single-use" before its extension unless its name says so."""
    head, tail = os.path.split(path)
    if 'single-use' in tail:
        return path
    stem, ext = os.path.splitext(tail)
    return os.path.join(head, f'{stem}.single-use{ext}')


def write_private(path, data):
    """data into path: 0600 from the start, replaced atomically, never
    through a symlink (the secrets would land where the link points)."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            sys.exit(f'{path}: a symbolic link; give the real path (provision.py never '
                     'writes through one)')
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or '.', prefix='.provision-')
    try:
        with os.fdopen(fd, 'wb') as f:  # mkstemp makes it 0600
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def network_block(a):
    """The 21-byte network block from the options (provision.h), or exits
    saying which value cannot serve."""
    try:
        net = ipaddress.IPv4Network(f'{a.ip}/{a.netmask}', strict=False)
        ip = ipaddress.IPv4Address(a.ip)
        gateway = ipaddress.IPv4Address(a.gateway or '0.0.0.0')
    except ValueError as e:
        sys.exit(f'--ip, --netmask, --gateway: {e}')
    if ip.is_unspecified or ip.is_multicast or (net.prefixlen < 31 and ip in (
            net.network_address, net.broadcast_address)):
        sys.exit(f'--ip {ip}: not an address a host can have in {net}')
    if net.prefixlen == 0:
        sys.exit('--netmask: 0.0.0.0 is not a subnet')
    if a.gateway and gateway not in net:
        sys.exit(f'--gateway {gateway}: not in {net}')
    if a.mac:
        if not re.fullmatch(r'([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}', a.mac):
            sys.exit('--mac: six hex bytes with colons, as 02:00:5e:10:00:01')
        mac = bytes.fromhex(a.mac.replace(':', ''))
        if mac[0] & 1 or mac == bytes(6):
            sys.exit(f'--mac {a.mac}: a unicast address, not zero (the first byte even)')
    else:
        mac = bytes([0x02]) + os.urandom(5)
    if not 1 <= a.port <= 65535:
        sys.exit('--port: 1 .. 65535')
    return (b'\x01' + mac + ip.packed + net.netmask.packed + gateway.packed +
            struct.pack('<H', a.port))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--key', required=True)
    ap.add_argument('--client-id', required=True)
    ap.add_argument('--device-id', required=True)
    ap.add_argument('--profile', choices=['v1', 'classic'], default='v1')
    ap.add_argument('--wakeup', type=int, default=4)
    ap.add_argument('--timeout', type=int, default=5000, help='per-HELLO deadline, ms')
    ap.add_argument('--size', type=int, default=1024)
    ap.add_argument('--boot', type=int, default=0, help='the boot counter to start from')
    ap.add_argument('-o', '--output',
                    help='write a single-use image file (its name gets ".single-use")')
    ap.add_argument('--avrdude', metavar='OPTIONS',
                    help='write the EEPROM through avrdude with these options, leaving no image')
    net = ap.add_argument_group('a board on a network (the network block; needs --ip)')
    net.add_argument('--ip', help='its IPv4 address')
    net.add_argument('--netmask', default='255.255.255.0', help='default 255.255.255.0')
    net.add_argument('--gateway', help='default: none')
    net.add_argument('--mac', help='default: a random locally administered one, 02:...')
    net.add_argument('--port', type=int, default=7468, help='TCP port, default 7468')
    a = ap.parse_args()
    if not a.output and a.avrdude is None:
        sys.exit('give --avrdude "OPTIONS" (no image left on disk) or -o IMAGE')
    for name in ('client_id', 'device_id'):
        if not ID_RE.match(getattr(a, name)):
            sys.exit(f'--{name.replace("_", "-")}: 1 to 32 of [A-Za-z0-9._-]')
    if not (0 if a.ip else 1) <= a.wakeup <= 255:
        sys.exit('--wakeup: 1 .. 255 (a serial line needs a wake-up; with --ip, 0 .. 255)')
    if not a.ip and (a.mac or a.gateway or a.port != 7468 or a.netmask != '255.255.255.0'):
        sys.exit('--mac, --netmask, --gateway and --port are a network block\'s: give --ip too')
    if not 0 <= a.timeout <= 65535 or a.size < SIZE:
        sys.exit(f'--timeout: 0 .. 65535 ms; --size: at least {SIZE}')
    block = network_block(a) if a.ip else None
    key = read_key(a.key)
    img = bytearray(b'\xff' * a.size)
    img[0:4] = MAGIC
    img[4] = VERSION
    img[5] = len(key)
    # Layout version 2: the boot counter as two copies, each with its
    # complement (provision.h); copy A holds --boot, copy B is erased.
    img[208:216] = struct.pack('<II', a.boot, a.boot ^ 0xffffffff)
    img[10:42] = os.urandom(32)
    img[42:106] = key.ljust(64, b'\0')
    img[106:139] = a.client_id.encode().ljust(33, b'\0')
    img[139:172] = a.device_id.encode().ljust(33, b'\0')
    img[172] = 1 if a.profile == 'classic' else 0
    img[173] = a.wakeup
    img[174:176] = struct.pack('<H', a.timeout)
    img[176:208] = os.urandom(32)  # the dummy key
    if block:
        img[NET:NET + len(block)] = block
    if a.output:
        path = single_use_name(a.output)
        write_private(path, bytes(img))
        print(path)
        print(f'provision.py: wrote {path}: single-use; write it to one board once, then '
              'delete it', file=sys.stderr)
    if a.avrdude is not None:
        cmd = ['avrdude'] + shlex.split(a.avrdude) + ['-U', 'eeprom:w:-:r']
        r = subprocess.run(cmd, input=bytes(img))
        if r.returncode != 0:
            sys.exit(f'provision.py: avrdude exited {r.returncode}; the EEPROM may be '
                     'half written: run this again (a new seed), never an old image')


main()
