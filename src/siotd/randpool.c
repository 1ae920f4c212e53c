/* SPDX-License-Identifier: MIT */
#include "randpool.h"

#include <string.h>

#include <sodium.h>

void randpool_init(struct randpool *p)
{
	p->next = sizeof(p->buf);
}

void randpool_take(struct randpool *p, uint8_t *out, size_t n)
{
	if (n > sizeof(p->buf)) { /* never asked of it: draw directly */
		randombytes_buf(out, n);
		return;
	}
	if (sizeof(p->buf) - p->next < n) {
		/* libsodium reads the OS at most 256 bytes per getrandom(); a
		 * fresh 32-byte seed expanded by its ChaCha20 generator fills
		 * the pool with one. */
		uint8_t seed[randombytes_SEEDBYTES];

		randombytes_buf(seed, sizeof(seed));
		randombytes_buf_deterministic(p->buf, sizeof(p->buf), seed);
		sodium_memzero(seed, sizeof(seed));
		p->next = 0;
	}
	memcpy(out, p->buf + p->next, n);
	sodium_memzero(p->buf + p->next, n);
	p->next += n;
}

void randpool_wipe(struct randpool *p)
{
	sodium_memzero(p->buf, sizeof(p->buf));
	p->next = sizeof(p->buf);
}
