#!/usr/bin/env python3
"""Print "VERSION|DIRECTORY" for each lwIP source tree that .ci/fetch-lwip
left in the cache (or for each directory given), for src/device/meson.build.
Prints nothing when there are none."""
import os
import re
import sys


def version_of(d):
    try:
        with open(os.path.join(d, 'src/include/lwip/init.h'), encoding='utf-8') as f:
            text = f.read()
    except OSError:
        return None
    parts = [re.search(r'#define\s+LWIP_VERSION_%s\s+(\d+)' % k, text) for k in ('MAJOR', 'MINOR', 'REVISION')]
    return '.'.join(m.group(1) for m in parts) if all(parts) else None


def main():
    dirs = sys.argv[1:]
    if not dirs:
        cache = os.environ.get('SIOT_CACHE') or os.path.join(
            os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'siot')
        top = os.path.join(cache, 'lwip')
        if os.path.isdir(top):
            dirs = [os.path.join(top, n) for n in sorted(os.listdir(top))
                    if n.startswith('lwip-') and os.path.isdir(os.path.join(top, n))]
    for d in dirs:
        v = version_of(d)
        if v is None:
            sys.exit(f'{d}: not an lwIP source tree (no LWIP_VERSION_* in src/include/lwip/init.h)')
        print(f'{v}|{os.path.abspath(d)}')


main()
