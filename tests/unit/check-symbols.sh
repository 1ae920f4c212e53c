#!/bin/sh
# Usage: check-symbols.sh NM LIBRARY.a
# Fails when the protocol library references anything outside its allowance:
# libsodium, and libc's memory and string helpers that neither allocate nor
# do I/O.  This is the structural proof of "no allocation, no I/O, no
# logging, no memcmp on MACs" in src/proto.
set -eu
nm_bin=$1
lib=$2
undefined=$("$nm_bin" -u "$lib" | awk 'NF == 2 && $1 == "U" { print $2 }' | sort -u)
[ -n "$undefined" ] || { echo "no undefined symbols read from $lib" >&2; exit 1; }
bad=0
for sym in $undefined; do
	case $sym in
	# The crypto library it is built on.
	crypto_* | sodium_* | randombytes_buf) ;;
	# libc helpers that neither allocate nor do I/O.
	memcpy | memset | memmove | memchr | strlen | strcmp) ;;
	# _FORTIFY_SOURCE's checked forms of the same.
	__memcpy_chk | __memset_chk | __memmove_chk) ;;
	# The stack protector: the failure handler everywhere, and on 32-bit ARM
	# (armhf) its canary too, a global variable there instead of a TLS slot.
	__stack_chk_fail | __stack_chk_guard) ;;
	# A linker symbol, present in PIC objects.
	_GLOBAL_OFFSET_TABLE_) ;;
	# Instrumentation the compiler adds in sanitizer and coverage builds.
	__asan_* | __ubsan_* | __sanitizer_* | __sancov_* | __tsan_*) ;;
	__gcov_*) ;;
	*)
		echo "libsiot must not use: $sym" >&2
		bad=1
		;;
	esac
done
echo "$(echo "$undefined" | wc -l) undefined symbols checked"
exit $bad
