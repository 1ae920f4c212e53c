#!/bin/sh
# Usage: run-package.sh PACKAGE_DIR
# An integration package's tests (clients/node-red, clients/homebridge):
# its dev dependencies from its committed lockfile (npm ci), siot-client's
# too (the package bundles it, packed with its generated types), then
# node --test.  Node.js >= 20.19 and Chromium are needed; without them the
# tests are skipped with a message, except in CI, where that is a failure.
set -eu
dir=$1
client=$(dirname "$dir")/node
skip() {
	if [ -n "${CI:-}" ]; then
		echo "FAIL: $1 (CI must run these tests)"
		exit 1
	fi
	echo "SKIP: $1"
	exit 77
}
if ! command -v node >/dev/null 2>&1 ||
	! node -e "const [a,b]=process.versions.node.split('.').map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)"; then
	skip "Node.js >= 20.19 is needed, found $(node -p 'process.versions.node' 2>/dev/null || echo none)"
fi
command -v npm >/dev/null 2>&1 || skip "npm is needed (Debian: apt install npm)"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || skip "Chromium is needed (Debian: apt install chromium)"
if [ ! -d "$client/node_modules/typescript" ]; then
	(cd "$client" && npm ci --no-audit --no-fund --loglevel=error)
fi
cd "$dir"
# Always from the lockfile: siot-client is installed as a copy of ../node
# (install-links), so a change there must reach the bundle.
npm ci --no-audit --no-fund --loglevel=error
exec node --test test/
