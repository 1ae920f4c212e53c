/* SPDX-License-Identifier: MIT */
/*
 * The AVR's SHA-256 compression (src/device/sha256_process.c), built for
 * the host: FIPS 180-4's examples through a padding written here, and a
 * differential test against Mbed TLS's own compression
 * (mbedtls_internal_sha256_process) from random states and blocks, for each
 * Mbed TLS version found.  On the AVR itself, tests/firmware/test_sha256_avr.py
 * runs the vectors and 10,000 messages in simavr.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mbedtls/sha256.h"
#include "sha256_process.h"
#include "check-run.h"

#ifndef MBEDTLS_PRIVATE /* Mbed TLS 2.x: the fields are public */
#define MBEDTLS_PRIVATE(f) f
#endif

static const uint32_t H0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* SHA-256 of msg with FIPS 180-4's padding (5.1.1), every block through
 * siot_sha256_compress; the digest in hex. */
static void digest_hex(const uint8_t *msg, size_t len, char hex[65])
{
	uint32_t h[8];
	uint8_t block[64];
	uint64_t bits = (uint64_t)len * 8;
	size_t i, at = 0;

	memcpy(h, H0, sizeof(h));
	for (; len - at >= 64; at += 64)
		siot_sha256_compress(h, msg + at);
	memset(block, 0, sizeof(block));
	memcpy(block, msg + at, len - at);
	block[len - at] = 0x80;
	if (len - at >= 56) {
		siot_sha256_compress(h, block);
		memset(block, 0, sizeof(block));
	}
	for (i = 0; i < 8; i++)
		block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	siot_sha256_compress(h, block);
	for (i = 0; i < 8; i++)
		snprintf(hex + 8 * i, 9, "%08x", (unsigned)h[i]);
}

START_TEST(fips_180_4_examples)
{
	static uint8_t million[1000000];
	char hex[65];

	digest_hex((const uint8_t *)"abc", 3, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest_hex((const uint8_t *)"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', sizeof(million));
	digest_hex(million, sizeof(million), hex);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	digest_hex(NULL, 0, hex);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

static uint32_t xorshift32(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* 100,000 random (state, block) pairs: the same state out of both. */
START_TEST(same_as_mbed_tls)
{
	mbedtls_sha256_context ctx;
	uint32_t x = 0x9e3779b9, ours[8];
	uint8_t block[64];

	mbedtls_sha256_init(&ctx);
	for (int n = 0; n < 100000; n++) {
		for (int i = 0; i < 8; i++)
			ours[i] = ctx.MBEDTLS_PRIVATE(state)[i] = xorshift32(&x);
		for (int i = 0; i < 64; i++)
			block[i] = (uint8_t)xorshift32(&x);
		ck_assert_int_eq(mbedtls_internal_sha256_process(&ctx, block), 0);
		siot_sha256_compress(ours, block);
		ck_assert_mem_eq(ours, ctx.MBEDTLS_PRIVATE(state), sizeof(ours));
	}
	mbedtls_sha256_free(&ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sha256_process");
	TCase *tc = tcase_create("compress");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fips_180_4_examples);
	tcase_add_test(tc, same_as_mbed_tls);
	suite_add_tcase(s, tc);
	return check_run(s);
}
