/* SPDX-License-Identifier: MIT */
/*
 * SHA-256's compression function (FIPS 180-4, section 6.2.2) for an 8-bit
 * AVR, behind Mbed TLS's own seam: with MBEDTLS_SHA256_PROCESS_ALT defined,
 * sha256.c leaves mbedtls_internal_sha256_process() to this file, and
 * everything around it (padding, the length, HMAC, HMAC_DRBG) stays Mbed
 * TLS's.  It is one of the two primitives this project writes itself (the
 * other: HMAC over a library's hash, src/proto), and exists only because Mbed TLS's own costs an ATmega328P 184,000 cycles and a 360-byte
 * stack frame a block: a 64-word schedule, and 32-bit rotations that
 * avr-gcc turns into loops of single-bit shifts.  This one: 60,488 cycles
 * (tests/firmware/test_sha256_avr.py prints it) and a 167-byte
 * frame (avr-gcc -fstack-usage).
 *
 * Here:
 *  - the schedule is 16 words, rolled: W[t mod 16] becomes W[t] in place;
 *  - a rotation is a move of whole bytes (register moves) and then one to
 *    three single-bit rotations, in assembly on the AVR
 *    (avr-gcc 5.4 loops over the bit count otherwise);
 *  - the 64 round constants are in flash, read with LPM;
 *  - nothing branches on, or indexes memory by, the data: every index
 *    depends on the round number only.
 *
 * The same C builds on the host for the unit tests
 * (tests/unit/test-sha256-process.c), where it is compared with Mbed TLS's
 * own compression, and for tests/ct (valgrind); on the AVR,
 * avr/sha256_check.c runs the vectors and the differential test in simavr.
 */
#include <stdint.h>
#include <string.h>

#include "mbedtls/platform_util.h"
#include "sha256_process.h"

#if defined(__AVR__)
#include <avr/pgmspace.h>
#define IN_FLASH PROGMEM
#define K_AT(t) pgm_read_dword(&K[t])
#else
#define IN_FLASH
#define K_AT(t) K[t]
#endif

#define INLINE static inline __attribute__((always_inline))

static const uint32_t K[64] IN_FLASH = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Rotations by whole bytes: avr-gcc does these as register moves. */
#define ROTR8(x) ((uint32_t)((x) >> 8 | (x) << 24))
#define ROTR16(x) ((uint32_t)((x) >> 16 | (x) << 16))
#define ROTR24(x) ((uint32_t)((x) >> 24 | (x) << 8))

/* One bit right or left, and a one-bit shift right. */
INLINE uint32_t rotr1(uint32_t x)
{
#if defined(__AVR__)
	__asm__("bst %A0, 0\n\tlsr %D0\n\tror %C0\n\tror %B0\n\tror %A0\n\tbld %D0, 7" : "+r"(x));
	return x;
#else
	return x >> 1 | x << 31;
#endif
}

INLINE uint32_t rotl1(uint32_t x)
{
#if defined(__AVR__)
	__asm__("lsl %A0\n\trol %B0\n\trol %C0\n\trol %D0\n\tadc %A0, __zero_reg__" : "+r"(x));
	return x;
#else
	return x << 1 | x >> 31;
#endif
}

INLINE uint32_t shr1(uint32_t x)
{
#if defined(__AVR__)
	__asm__("lsr %D0\n\tror %C0\n\tror %B0\n\tror %A0" : "+r"(x));
	return x;
#else
	return x >> 1;
#endif
}

/* FIPS 180-4 (4.4) to (4.7), each rotation split as above. */
INLINE uint32_t big_sigma0(uint32_t a) /* ROTR2 ^ ROTR13 ^ ROTR22 */
{
	uint32_t r2 = rotr1(rotr1(a));
	uint32_t r13 = rotl1(rotl1(rotl1(ROTR16(a))));
	uint32_t r22 = rotl1(rotl1(ROTR24(a)));

	return r2 ^ r13 ^ r22;
}

INLINE uint32_t big_sigma1(uint32_t e) /* ROTR6 ^ ROTR11 ^ ROTR25 */
{
	uint32_t r8 = ROTR8(e);
	uint32_t r6 = rotl1(rotl1(r8));
	uint32_t r11 = rotr1(rotr1(rotr1(r8)));
	uint32_t r25 = rotr1(ROTR24(e));

	return r6 ^ r11 ^ r25;
}

INLINE uint32_t small_sigma0(uint32_t x) /* ROTR7 ^ ROTR18 ^ SHR3 */
{
	uint32_t r7 = rotl1(ROTR8(x));
	uint32_t r18 = rotr1(rotr1(ROTR16(x)));
	uint32_t s3 = shr1(shr1(shr1(x)));

	return r7 ^ r18 ^ s3;
}

INLINE uint32_t small_sigma1(uint32_t x) /* ROTR17 ^ ROTR19 ^ SHR10 */
{
	uint32_t r17 = rotr1(ROTR16(x));
	uint32_t r19 = rotr1(rotr1(r17));
	uint32_t s10 = shr1(shr1(x >> 8));

	return r17 ^ r19 ^ s10;
}

void siot_sha256_compress(uint32_t state[8], const unsigned char block[64])
{
	uint32_t w[16], s[8];
	uint8_t t;

	for (t = 0; t < 16; t++)
		w[t] = (uint32_t)block[4 * t] << 24 | (uint32_t)block[4 * t + 1] << 16 |
		       (uint32_t)block[4 * t + 2] << 8 | block[4 * t + 3];
	memcpy(s, state, sizeof(s));
	for (t = 0; t < 64; t++) {
		uint32_t t1, t2;
		uint8_t i = t & 15;

		if (t >= 16) /* W[t] from W[t-2], W[t-7], W[t-15], W[t-16]: all in the 16 */
			w[i] += small_sigma1(w[(t - 2) & 15]) + w[(t - 7) & 15] +
				small_sigma0(w[(t - 15) & 15]);
		t1 = s[7] + big_sigma1(s[4]) + ((s[4] & s[5]) ^ (~s[4] & s[6])) + K_AT(t) + w[i];
		t2 = big_sigma0(s[0]) + ((s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]));
		/* The words move down one: spelled out, as memmove() cost a
		 * fifth of the compression's cycles on the AVR. */
		s[7] = s[6];
		s[6] = s[5];
		s[5] = s[4];
		s[4] = s[3] + t1;
		s[3] = s[2];
		s[2] = s[1];
		s[1] = s[0];
		s[0] = t1 + t2;
	}
	for (t = 0; t < 8; t++)
		state[t] += s[t];
	/* The schedule and working words are the message's and the key's
	 * (HMAC): not left on the stack. */
	mbedtls_platform_zeroize(w, sizeof(w));
	mbedtls_platform_zeroize(s, sizeof(s));
}

#if defined(MBEDTLS_SHA256_PROCESS_ALT)
#include "mbedtls/sha256.h"

int mbedtls_internal_sha256_process(mbedtls_sha256_context *ctx, const unsigned char data[64])
{
	siot_sha256_compress(ctx->state, data);
	return 0;
}
#endif
