#!/bin/sh
# Usage: check-man.sh PAGE...   mandoc's linter must have nothing to say.
set -eu
for page in "$@"; do
	out=$(mandoc -Tlint -W warning "$page" 2>&1) || true
	if [ -n "$out" ]; then
		echo "$out"
		exit 1
	fi
	echo "$(basename "$page"): clean"
done
