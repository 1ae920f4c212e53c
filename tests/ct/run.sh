#!/bin/sh
# The constant-time check (ct-check.c) under valgrind memcheck: the real
# run must show no use of secret data before a declassification point, and
# the --leaky run, which branches on a key byte on purpose, must be caught
# (so this check can fail).  Skips (77) without valgrind, except in CI.
set -u
valgrind=$(command -v valgrind) || {
	if [ -n "${CI:-}" ]; then echo "FAIL: valgrind is missing (.ci/run installs it)"; exit 1; fi
	echo "SKIP: valgrind is missing"; exit 77
}
check=$1 # [WHAT: what it covers, for the closing line]
vg() { "$valgrind" --quiet --error-exitcode=99 --track-origins=yes "$@"; }

vg "$check"; rc=$?
if [ "$rc" -ne 0 ]; then
	echo "FAIL: secret data reached a branch or an index (exit $rc; memcheck's report above)"
	exit 1
fi
out=$(vg "$check" --leaky 2>&1); rc=$?
if [ "$rc" -ne 99 ] || ! printf '%s\n' "$out" | grep -q 'Conditional jump or move depends on uninitialised'; then
	echo "FAIL: the deliberate branch on a key byte was not caught (exit $rc)"
	printf '%s\n' "$out"
	exit 1
fi
echo "ct: no branch or index on secret data in ${2:-the scans, the response build or the 256-value search}; a deliberate one is caught"
