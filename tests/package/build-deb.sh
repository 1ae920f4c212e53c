#!/bin/bash
# Usage: build-deb.sh SOURCE_DIR OUT_DIR [DEBIAN_DIR]
# Build the Debian packages from a copy of the source tree (the files git
# knows, as they are in the working tree) with DEBIAN_DIR (default:
# packaging/debian) as debian/.  Leaves the .debs, .changes and the build
# log in OUT_DIR and prints the paths of the .debs (not the debug symbols).
# The vm suite builds the packages it installs with it, on this machine, and
# the package suite the siot 0.1.0 package it upgrades from:
# today's tree under 0.1.0's debian/, whose Build-Depends are 0.1.0's (-d:
# the tree builds with today's, which .ci/install-deps installs); the
# packages themselves are built with packaging/build-debs.
set -euo pipefail
src=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
debian=${3:-$src/packaging/debian}
rm -rf "$out/src"
mkdir "$out/src"
(cd "$src" && git ls-files -z -co --exclude-standard 2>/dev/null || find . -path ./build\* -prune -o -type f -print0) |
	(cd "$src" && tar --ignore-failed-read --null -T - -cf - 2>/dev/null) | tar -C "$out/src" -xf -
cp -r "$debian" "$out/src/debian"
(cd "$out/src" && dpkg-buildpackage -us -uc -b -d) > "$out/build.log" 2>&1 ||
	{ tail -n 60 "$out/build.log" >&2; exit 1; }
rm -rf "$out/src"
ls "$out"/*.deb | grep -v -- '-dbgsym_'
