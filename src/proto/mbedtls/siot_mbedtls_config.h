/* SPDX-License-Identifier: MIT */
/*
 * The Mbed TLS configuration for siot's Mbed TLS backend (crypto_mbedtls.c):
 * the primitives the protocol needs and nothing else.  Used as
 * MBEDTLS_CONFIG_FILE for the library and for everything that includes its
 * headers; the same file serves Mbed TLS 2.28 and 3.x.
 *
 * SIOT_MBEDTLS_NO_SHA512, defined by a firmware build, leaves SHA-512 (and
 * so hash = "sha512") out to save flash.
 */
#ifndef SIOT_MBEDTLS_CONFIG_H
#define SIOT_MBEDTLS_CONFIG_H

#define MBEDTLS_SHA256_C
#if !defined(SIOT_MBEDTLS_NO_SHA512)
#define MBEDTLS_SHA512_C
#endif
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_MD_C          /* HMAC_DRBG runs on mbedtls_md */
#define MBEDTLS_HMAC_DRBG_C
#define MBEDTLS_BASE64_C      /* key files in base64 */

#endif
