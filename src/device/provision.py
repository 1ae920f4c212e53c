#!/usr/bin/env python3
"""Write a device's provisioned secrets as an EEPROM image (provision.h).

  provision.py --key KEYFILE --client-id ID --device-id ID -o eeprom.bin
               [--profile v1|classic] [--wakeup N] [--timeout MS]
               [--size BYTES] [--boot N]

The key file is a siot key file (siot-ctl keygen): hex or base64 on one
line.  The DRBG seed is 32 fresh bytes from the OS.  The image is --size
bytes (default 1024, the ATmega328P's EEPROM), erased (0xFF) past the
layout.  Write it to a board with, for example,
  avrdude -p m328p -c arduino -P /dev/ttyUSB0 -b 57600 -U eeprom:w:eeprom.bin:r
(an Uno's bootloader cannot write EEPROM; use an ISP programmer there), or
give it to tests/firmware's avr-bridge with --eeprom.

The image holds the key and the seed: keep it as private as the key file.
"""
import argparse
import base64
import binascii
import os
import re
import struct
import sys

MAGIC = b'SIOT'
VERSION = 1
SIZE = 208
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


def main():
    ap = argparse.ArgumentParser(description='Write a siot device EEPROM image.')
    ap.add_argument('--key', required=True)
    ap.add_argument('--client-id', required=True)
    ap.add_argument('--device-id', required=True)
    ap.add_argument('--profile', choices=['v1', 'classic'], default='v1')
    ap.add_argument('--wakeup', type=int, default=4)
    ap.add_argument('--timeout', type=int, default=5000, help='per-HELLO deadline, ms')
    ap.add_argument('--size', type=int, default=1024)
    ap.add_argument('--boot', type=int, default=0, help='the boot counter to start from')
    ap.add_argument('-o', '--output', required=True)
    a = ap.parse_args()
    for name in ('client_id', 'device_id'):
        if not ID_RE.match(getattr(a, name)):
            sys.exit(f'--{name.replace("_", "-")}: 1 to 32 of [A-Za-z0-9._-]')
    if not 1 <= a.wakeup <= 255:
        sys.exit('--wakeup: 1 .. 255 (a serial line needs a wake-up)')
    if not 0 <= a.timeout <= 65535 or a.size < SIZE:
        sys.exit('--timeout: 0 .. 65535 ms; --size: at least 208')
    key = read_key(a.key)
    img = bytearray(b'\xff' * a.size)
    img[0:4] = MAGIC
    img[4] = VERSION
    img[5] = len(key)
    img[6:10] = struct.pack('<I', a.boot)
    img[10:42] = os.urandom(32)
    img[42:106] = key.ljust(64, b'\0')
    img[106:139] = a.client_id.encode().ljust(33, b'\0')
    img[139:172] = a.device_id.encode().ljust(33, b'\0')
    img[172] = 1 if a.profile == 'classic' else 0
    img[173] = a.wakeup
    img[174:176] = struct.pack('<H', a.timeout)
    img[176:208] = os.urandom(32)  # the dummy key
    fd = os.open(a.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as f:
        f.write(img)


main()
