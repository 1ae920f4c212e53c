/* SPDX-License-Identifier: MIT */
/*
 * The Mbed TLS configuration for siot's Mbed TLS backend (crypto_mbedtls.c):
 * the primitives the protocol needs and nothing else.  Used as
 * MBEDTLS_CONFIG_FILE for the library and for everything that includes its
 * headers; the same file serves Mbed TLS 2.28 and 3.x.
 *
 * SIOT_MBEDTLS_NO_SHA512, defined by a firmware build, leaves SHA-512 (and
 * so hash = "sha512") out and takes the rolled SHA-256 loop: on an
 * ATmega328P the unrolled one alone is 16.7 KB of its 30 KB of flash.
 */
#ifndef SIOT_MBEDTLS_CONFIG_H
#define SIOT_MBEDTLS_CONFIG_H

#define MBEDTLS_SHA256_C
#if !defined(SIOT_MBEDTLS_NO_SHA512)
#define MBEDTLS_SHA512_C
#else
#define MBEDTLS_SHA256_SMALLER
#endif
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_MD_C          /* HMAC_DRBG runs on mbedtls_md */
#define MBEDTLS_HMAC_DRBG_C
/* The DRBG is seeded with at most 128 bytes (siot_drbg_seed: seed and
 * personalisation); the default 384 puts a 384-byte buffer on the stack. */
#define MBEDTLS_HMAC_DRBG_MAX_SEED_INPUT 128
#define MBEDTLS_BASE64_C      /* key files in base64 */

#endif
