/* SPDX-License-Identifier: MIT */
/*
 * The seam between the protocol and its primitives.  libsiot calls nothing
 * else of a crypto library; crypto_sodium.c and crypto_mbedtls.c implement
 * these on libsodium and on Mbed TLS.  None allocates or does I/O (Mbed TLS's
 * DRBG allocates once, when it is seeded: see siot_drbg_seed()).
 *
 * Only libsiot includes this header.
 */
#ifndef SIOT_CRYPTO_H
#define SIOT_CRYPTO_H

#include <errno.h>

#include "siot.h"

/* avr-libc has no EBADMSG (and gives most errno names one value). */
#ifndef EBADMSG
#define EBADMSG EIO
#endif

#define SIOT_SEAL_KEY_LEN 32 /* ChaCha20-Poly1305-IETF key */

int siot_crypto_init(void);

/* HMAC-SHA-256/512 states (RFC 2104).  init absorbs the key (any length);
 * a state can be copied with = and continued; final writes the full digest
 * and leaves the state to be wiped by the caller. */
void siot_crypto_hmac_init(struct siot_hmac_state *st, enum siot_hash hash, const uint8_t *key,
			   size_t len);
void siot_crypto_hmac_update(struct siot_hmac_state *st, enum siot_hash hash, const void *data,
			     size_t len);
void siot_crypto_hmac_final(struct siot_hmac_state *st, enum siot_hash hash, uint8_t *out);

/* 0 when a[0..len) == b[0..len), else -1, in time independent of the
 * contents. */
int siot_crypto_memcmp(const void *a, const void *b, size_t len);

/* Zero memory in a way the compiler keeps. */
void siot_crypto_wipe(void *p, size_t len);

/* Fill buf with random bytes.  0, or -EIO when there is no random source
 * (Mbed TLS: the DRBG was never seeded). */
int siot_crypto_random(void *buf, size_t len);

/* ChaCha20-Poly1305-IETF with a zero nonce and no associated data (each key
 * seals one message).  seal writes len + SIOT_SEAL_OVERHEAD bytes; open reads
 * sealed_len (>= the overhead) bytes and writes sealed_len - overhead, or
 * returns -EBADMSG, having written nothing it vouches for. */
void siot_crypto_seal(uint8_t *out, const uint8_t *in, size_t len,
		      const uint8_t key[SIOT_SEAL_KEY_LEN]);
int siot_crypto_open(uint8_t *out, const uint8_t *sealed, size_t sealed_len,
		     const uint8_t key[SIOT_SEAL_KEY_LEN]);

/* Strict decoders for key files: the whole text, nothing skipped.  0, or
 * -EINVAL with out[0..cap) zeroed. */
int siot_crypto_hex2bin(uint8_t *out, size_t cap, const char *text, size_t len, size_t *out_len);
int siot_crypto_base642bin(uint8_t *out, size_t cap, const char *text, size_t len,
			   size_t *out_len);

#endif
