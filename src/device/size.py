#!/usr/bin/env python3
"""Usage: size.py SIZE FLASH_TOTAL RAM_TOTAL IMAGE.elf ...

Print each firmware image's flash (.text + .data) and static RAM (.data +
.bss + .noinit) against the part's, from binutils' size -A.  Static RAM is
what the image reserves; the stack and the heap come on top of it and are
measured by running the image (tests/firmware: the painted-stack mark)."""
import os
import subprocess
import sys


def sections(size, elf):
    out = subprocess.run([size, '-A', elf], check=True, capture_output=True, text=True).stdout
    got = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith('.') and parts[1].isdigit():
            got[parts[0]] = int(parts[1])
    return got


def main():
    size, flash_total, ram_total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(f'{"image":<28} {"flash":>7} {"of":>6} {"free":>6}   {"static RAM":>10} {"of":>5}')
    for elf in sys.argv[4:]:
        s = sections(size, elf)
        flash = s.get('.text', 0) + s.get('.data', 0)
        ram = s.get('.data', 0) + s.get('.bss', 0) + s.get('.noinit', 0)
        name = os.path.basename(elf)
        print(f'{name:<28} {flash:>7} {flash_total:>6} {flash_total - flash:>6}   '
              f'{ram:>10} {ram_total:>5}')


main()
