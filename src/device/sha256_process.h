/* SPDX-License-Identifier: MIT */
#ifndef SIOT_SHA256_PROCESS_H
#define SIOT_SHA256_PROCESS_H
#include <stdint.h>

/* One SHA-256 compression (FIPS 180-4, 6.2.2): state[0..7] (H0..H7) takes
 * in the 64-byte block.  Builds with MBEDTLS_SHA256_PROCESS_ALT provide
 * Mbed TLS's mbedtls_internal_sha256_process() on it (sha256_process.c). */
void siot_sha256_compress(uint32_t state[8], const unsigned char block[64]);

#endif
