#!/bin/sh
# Usage: run.sh tests|types CLIENT_DIR
# The Node.js client's tests (node --test) or its type check (tsc on the
# JSDoc types, then a consumer compiled against the generated .d.ts through
# the package's exports map).  Node.js >= 20.19 is required; without it the
# tests are skipped with a message, except in CI, where that is a failure.
set -eu
what=$1
dir=$2
need="20.19"
if ! command -v node >/dev/null 2>&1; then
	have=none
else
	have=$(node -p 'process.versions.node')
fi
if [ "$have" = none ] || ! node -e "const [a,b]=process.versions.node.split('.').map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)"; then
	msg="Node.js >= $need is needed for the Node.js client, found $have"
	if [ -n "${CI:-}" ]; then
		echo "FAIL: $msg (CI must run these tests)"
		exit 1
	fi
	echo "SKIP: $msg"
	exit 77
fi
cd "$dir"
case "$what" in
tests)
	# The optional 'mqtt' package, for the tests through a broker.
	if [ ! -d node_modules/mqtt ]; then
		npm ci --no-audit --no-fund --loglevel=error
	fi
	exec node --test test/
	;;
types)
	if [ ! -d node_modules/typescript ]; then
		npm ci --no-audit --no-fund --loglevel=error
	fi
	npx --no-install tsc -p tsconfig.types.json
	npx --no-install tsc --noEmit -p tsconfig.json
	echo "tsc: JSDoc types, generated .d.ts and the exports map check out"
	;;
esac
