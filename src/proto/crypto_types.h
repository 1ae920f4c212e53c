/* SPDX-License-Identifier: MIT */
/*
 * The crypto backend's state types, for siot.h.  libsiot is built against
 * one backend: libsodium (the default, for Linux) or Mbed TLS (firmware, and
 * the host tests that prove it), chosen by defining SIOT_CRYPTO_MBEDTLS.
 * Everything else about the backends is in crypto.h, which only libsiot
 * includes.
 */
#ifndef SIOT_CRYPTO_TYPES_H
#define SIOT_CRYPTO_TYPES_H

#if defined(SIOT_CRYPTO_MBEDTLS)

#include <mbedtls/sha256.h>
#if defined(MBEDTLS_SHA512_C)
#include <mbedtls/sha512.h>
#endif

#define SIOT_CRYPTO_NAME "mbedtls"
#if defined(MBEDTLS_SHA512_C)
#define SIOT_CRYPTO_SHA512 1
#else
#define SIOT_CRYPTO_SHA512 0 /* a firmware build may leave SHA-512 out */
#endif

/* The DRBG behind siot_server_hello's challenges (there is no OS to ask).
 * Seed it before the first HELLO with a secret per-device seed and a
 * personalisation string that never repeats for that seed (a boot counter):
 * PROTOCOL.md, "Serial lines".  0, or -EINVAL / -EIO. */
#define SIOT_DRBG_MIN_SEED 32
#define SIOT_DRBG_MAX_SEED 64
#define SIOT_DRBG_MAX_PERS 64
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
int siot_drbg_seed(const uint8_t *seed, size_t seed_len, const uint8_t *pers, size_t pers_len);
/* Mix more input (board entropy, if any) into the seeded DRBG. */
int siot_drbg_mix(const uint8_t *data, size_t len);
#ifdef __cplusplus
}
#endif

/* HMAC per RFC 2104 composed over Mbed TLS's hash contexts: the inner
 * context after absorbing K0 ^ ipad, and only the chaining value of the
 * outer one after K0 ^ opad (a whole block, so nothing else of it is
 * left): 76 bytes less than a second SHA-256 context, which a 2 KB part
 * notices.  (mbedtls_md's HMAC cannot be copied in 2.28 and its setup
 * allocates.) */
struct siot_hmac_state {
	union {
		struct {
			mbedtls_sha256_context inner;
			uint32_t outer[8];
		} s256;
#if defined(MBEDTLS_SHA512_C)
		struct {
			mbedtls_sha512_context inner;
			uint64_t outer[8];
		} s512;
#endif
	} u;
};

#else /* libsodium */

#include <sodium.h>

#define SIOT_CRYPTO_NAME "libsodium"
#define SIOT_CRYPTO_SHA512 1

struct siot_hmac_state {
	union {
		crypto_auth_hmacsha256_state s256;
		crypto_auth_hmacsha512_state s512;
	} u;
};

#endif

#endif
