#!/usr/bin/env python3
"""Run scdoc on a page and drop the paragraph macros it emits where roff
needs none (right after a heading, before another block, or empty), which
mandoc -Tlint reports as warnings.  Usage: scdoc-tidy.py SCDOC IN OUT"""
import subprocess
import sys

AFTER = ('.SH', '.SS', '.TH', '.P', '.PP', '.LP')         # a .P right after these is empty
BEFORE = ('.SH', '.SS', '.P', '.PP', '.LP', '.TP', '.IP', '.RE')  # or before these


def tidy(text):
    lines = text.split('\n')
    out = []
    for i, line in enumerate(lines):
        if line in ('.P', '.PP'):
            prev = next((l for l in reversed(out) if not l.startswith('.\\"')), '')
            nxt = next((l for l in lines[i + 1:] if not l.startswith('.\\"')), '')
            if prev.split(' ')[0] in AFTER or nxt == '' or nxt.split(' ')[0] in BEFORE:
                continue
        out.append(line)
    return '\n'.join(out)


def main(scdoc, src, dst):
    with open(src, 'rb') as f:
        page = subprocess.run([scdoc], stdin=f, capture_output=True, check=True).stdout
    with open(dst, 'w', encoding='utf-8') as f:
        f.write(tidy(page.decode('utf-8')))


if __name__ == '__main__':
    main(*sys.argv[1:])
