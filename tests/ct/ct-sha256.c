/* SPDX-License-Identifier: MIT */
/*
 * The constant-time check (tests/ct/run.sh) of the AVR's SHA-256
 * compression, src/device/sha256_process.c, as built for the host: the
 * state and the block are marked undefined for valgrind memcheck, so any
 * branch or memory index on them is an error.  With --leaky it branches on
 * a block byte on purpose, so that run.sh can show the check catches one.
 * (On the AVR the rotations are assembly without branches; the C around
 * them is this C.)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <valgrind/memcheck.h>

#include "sha256_process.h"

int main(int argc, char **argv)
{
	uint32_t state[8];
	uint8_t block[64];
	volatile uint32_t sink = 0;

	memset(block, 0x5a, sizeof(block));
	memset(state, 0xa5, sizeof(state));
	VALGRIND_MAKE_MEM_UNDEFINED(block, sizeof(block));
	VALGRIND_MAKE_MEM_UNDEFINED(state, sizeof(state));
	for (int i = 0; i < 4; i++)
		siot_sha256_compress(state, block);
	if (argc > 1 && strcmp(argv[1], "--leaky") == 0 && block[3] == 0x5a)
		sink = 1;
	VALGRIND_MAKE_MEM_DEFINED(state, sizeof(state));
	printf("%08x %u\n", (unsigned)state[0], (unsigned)sink);
	return 0;
}
