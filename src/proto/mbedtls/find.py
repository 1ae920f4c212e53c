#!/usr/bin/env python3
"""Print "VERSION|DIRECTORY" for each Mbed TLS source tree that
.ci/fetch-mbedtls left in the cache (or for each directory given), for
src/proto/meson.build.  Prints nothing when there are none."""
import os
import re
import sys


def version_of(d):
    for name in ('include/mbedtls/build_info.h', 'include/mbedtls/version.h'):
        try:
            with open(os.path.join(d, name), encoding='utf-8') as f:
                m = re.search(r'#define\s+MBEDTLS_VERSION_STRING\s+"([0-9.]+)"', f.read())
        except OSError:
            continue
        if m:
            return m.group(1)
    return None


def main():
    dirs = sys.argv[1:]
    if not dirs:
        cache = os.environ.get('SIOT_CACHE') or os.path.join(
            os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'siot')
        top = os.path.join(cache, 'mbedtls')
        if os.path.isdir(top):
            dirs = [os.path.join(top, n) for n in sorted(os.listdir(top))
                    if n.startswith('mbedtls-') and os.path.isdir(os.path.join(top, n))]
    for d in dirs:
        v = version_of(d)
        if v is None:
            sys.exit(f'{d}: not an Mbed TLS source tree (no MBEDTLS_VERSION_STRING)')
        print(f'{v}|{os.path.abspath(d)}')


main()
