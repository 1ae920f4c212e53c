#!/bin/sh
# Usage: check-symbols.sh NM LIBRARY.a [sodium|mbedtls]
# Fails when the protocol library references anything outside its allowance.
# This is the structural proof of "no allocation, no I/O, no logging, no
# memcmp on MACs" in src/proto, and of its crypto seam:
#  - the protocol (siot.c, siot_server.c, siot_client.c, siot_names.c) calls
#    only the seam (siot_crypto_*, crypto.h), its own siot_* functions in those
#    files, and libc's memory and string helpers that neither allocate nor do I/O;
#  - the backend (crypto_sodium.c or crypto_mbedtls.c) calls its crypto
#    library and the same helpers.
set -eu
nm_bin=$1
lib=$2
backend=${3:-sodium}
case $backend in
sodium) library='crypto_* | sodium_* | randombytes_buf' ;;
mbedtls) library='mbedtls_*' ;;
*) echo "unknown backend $backend" >&2; exit 2 ;;
esac

# Members and what each leaves undefined: "member symbol" lines.
undefined=$("$nm_bin" -u -A "$lib" | awk '{ n = split($1, p, ":"); print p[n - 1], $NF }' | sort -u)
[ -n "$undefined" ] || { echo "no undefined symbols read from $lib" >&2; exit 1; }
# What the protocol's own members define.
protocol_defined=$("$nm_bin" -A --defined-only "$lib" |
	awk '$(NF - 1) ~ /^[TDRB]$/ { n = split($1, p, ":"); print p[n - 1], $NF }' |
	awk '$1 ~ /(^|\/)[^\/]*siot(_server|_client|_names)?\.c\.o$/ { print $2 }')
bad=0
count=0
seen_backend=0
echo "$undefined" | {
	while read -r member sym; do
		count=$((count + 1))
		case $member in
		*crypto_"$backend".c.o) role=backend; seen_backend=1 ;;
		*siot.c.o | *siot_server.c.o | *siot_client.c.o | *siot_names.c.o) role=protocol ;;
		*) echo "unexpected member $member in $lib" >&2; bad=1; continue ;;
		esac
		case $sym in
		# libc helpers that neither allocate nor do I/O.
		memcpy | memset | memmove | memchr | strlen | strcmp) continue ;;
		# _FORTIFY_SOURCE's checked forms of the same.
		__memcpy_chk | __memset_chk | __memmove_chk) continue ;;
		# The stack protector: the failure handler everywhere, and on 32-bit
		# ARM (armhf) its canary too, a global variable there.
		__stack_chk_fail | __stack_chk_guard) continue ;;
		# A linker symbol, present in PIC objects.
		_GLOBAL_OFFSET_TABLE_) continue ;;
		# Instrumentation the compiler adds in sanitizer and coverage builds.
		__asan_* | __ubsan_* | __sanitizer_* | __sancov_* | __tsan_* | __gcov_*) continue ;;
		esac
		if [ "$role" = protocol ]; then
			case $sym in siot_crypto_*) continue ;; esac
			# One protocol file calling another (siot_internal.h).
			echo "$protocol_defined" | grep -qx "$sym" && continue
			echo "the protocol must call crypto only through crypto.h, not: $sym" >&2
			bad=1
			continue
		fi
		# shellcheck disable=SC2254 # $library is a pattern list
		eval "case \$sym in $library) continue ;; esac"
		echo "the $backend backend must not use: $sym" >&2
		bad=1
	done
	[ "$seen_backend" = 1 ] || { echo "no crypto_$backend.c object in $lib" >&2; bad=1; }
	echo "$count undefined symbols checked ($backend backend)"
	exit $bad
}
