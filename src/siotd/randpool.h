/* SPDX-License-Identifier: MIT */
/*
 * Challenge bytes in batches: a fresh 32-byte seed from the OS (libsodium's
 * randombytes_buf) expanded to RANDPOOL_SIZE bytes by libsodium's ChaCha20
 * generator (randombytes_buf_deterministic), so one getrandom() serves 128
 * HELLOs of 32-byte challenges instead of one each.  Every byte handed out
 * is wiped from the pool and never handed out again; the pool is refilled
 * whole, from a new seed, when what is left is too short.
 */
#ifndef SIOTD_RANDPOOL_H
#define SIOTD_RANDPOOL_H

#include <stddef.h>
#include <stdint.h>

#define RANDPOOL_SIZE 4096

struct randpool {
	uint8_t buf[RANDPOOL_SIZE];
	size_t next; /* bytes before this were handed out; starts full (empty pool) */
};

/* An empty pool: the first take fills it. */
void randpool_init(struct randpool *p);
/* n (at most RANDPOOL_SIZE) fresh random bytes into out. */
void randpool_take(struct randpool *p, uint8_t *out, size_t n);
/* Wipe what is left. */
void randpool_wipe(struct randpool *p);

#endif
