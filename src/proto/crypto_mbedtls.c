/* SPDX-License-Identifier: MIT */
/*
 * The crypto seam (crypto.h) on Mbed TLS, for firmware and for the host
 * tests that prove it.  Works with Mbed TLS 2.28 and 3.x; the API renames
 * between them are all in the block below.
 *
 * HMAC is composed per RFC 2104 over the library's SHA-256/512 contexts,
 * because 2.28's mbedtls_md_clone does not copy an HMAC state and
 * mbedtls_md_setup allocates; tests/unit/test-proto.c proves the composition
 * with RFC 4231's vectors.  The outer context is kept as its chaining value
 * only (crypto_types.h), put back into a context at the end: that reads and
 * writes the contexts' state and total fields, public in 2.28 and private
 * (MBEDTLS_ALLOW_PRIVATE_ACCESS) in 3.x, the same in both.  Random bytes come from an HMAC_DRBG that the
 * device seeds (siot_drbg_seed): there is no OS to ask.
 */
/* Before any Mbed TLS header: the contexts' fields, in 3.x. */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS
#include "crypto.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/chachapoly.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/hmac_drbg.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

/* ---- Mbed TLS 2.28 against 3.x: the one place that knows ---------------- */
#if MBEDTLS_VERSION_NUMBER < 0x03000000
#define sha256_starts mbedtls_sha256_starts_ret
#define sha256_update mbedtls_sha256_update_ret
#define sha256_finish mbedtls_sha256_finish_ret
#define sha512_starts mbedtls_sha512_starts_ret
#define sha512_update mbedtls_sha512_update_ret
#define sha512_finish mbedtls_sha512_finish_ret
#define drbg_update mbedtls_hmac_drbg_update_ret
#else
#define sha256_starts mbedtls_sha256_starts
#define sha256_update mbedtls_sha256_update
#define sha256_finish mbedtls_sha256_finish
#define sha512_starts mbedtls_sha512_starts
#define sha512_update mbedtls_sha512_update
#define sha512_finish mbedtls_sha512_finish
#define drbg_update mbedtls_hmac_drbg_update
#endif
/* -------------------------------------------------------------------------- */

#if defined(MBEDTLS_SHA512_C)
#define MAX_BLOCK 128
#else
#define MAX_BLOCK 64
#endif

int siot_crypto_init(void)
{
	return 0;
}

/* The hash of data, into out; for keys longer than a block.  Not inlined:
 * its context would sit in every caller's frame. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void hash_once(enum siot_hash hash, const uint8_t *data, size_t len, uint8_t *out)
{
#if defined(MBEDTLS_SHA512_C)
	if (hash == SIOT_HASH_SHA512) {
		mbedtls_sha512_context c;

		mbedtls_sha512_init(&c);
		(void)sha512_starts(&c, 0);
		(void)sha512_update(&c, data, len);
		(void)sha512_finish(&c, out);
		mbedtls_sha512_free(&c);
		return;
	}
#endif
	mbedtls_sha256_context c;

	(void)hash;
	mbedtls_sha256_init(&c);
	(void)sha256_starts(&c, 0);
	(void)sha256_update(&c, data, len);
	(void)sha256_finish(&c, out);
	mbedtls_sha256_free(&c);
}

/* K0 ^ x (K0: k, then zeros up to the block) into a hash context, 16 bytes
 * at a time: no block-sized copy of the key on the stack, which on a 2 KB
 * part sits on top of the deepest call chain (key load, then SHA-256). */
#define PAD_CHUNK 16
static void absorb_pad(struct siot_hmac_state *st, enum siot_hash hash, const uint8_t *k,
		       size_t k_len, uint8_t x)
{
	size_t block = hash == SIOT_HASH_SHA512 ? 128 : 64;
	uint8_t chunk[PAD_CHUNK];

	for (size_t off = 0; off < block; off += PAD_CHUNK) {
		for (size_t i = 0; i < PAD_CHUNK; i++)
			chunk[i] = (uint8_t)((off + i < k_len ? k[off + i] : 0) ^ x);
#if defined(MBEDTLS_SHA512_C)
		if (hash == SIOT_HASH_SHA512) {
			(void)sha512_update(&st->u.s512.inner, chunk, PAD_CHUNK);
			continue;
		}
#endif
		(void)sha256_update(&st->u.s256.inner, chunk, PAD_CHUNK);
	}
	mbedtls_platform_zeroize(chunk, sizeof(chunk));
}

/* Both states from K0 = k (at most a block): the outer one first, in the
 * inner context (no second context on the stack), keeping its chaining
 * value; then the inner one. */
static void init_states(struct siot_hmac_state *st, enum siot_hash hash, const uint8_t *k,
			size_t k_len)
{
#if defined(MBEDTLS_SHA512_C)
	if (hash == SIOT_HASH_SHA512) {
		mbedtls_sha512_init(&st->u.s512.inner);
		(void)sha512_starts(&st->u.s512.inner, 0);
		absorb_pad(st, hash, k, k_len, 0x5c);
		memcpy(st->u.s512.outer, st->u.s512.inner.state, sizeof(st->u.s512.outer));
		(void)sha512_starts(&st->u.s512.inner, 0);
	} else
#endif
	{
		mbedtls_sha256_init(&st->u.s256.inner);
		(void)sha256_starts(&st->u.s256.inner, 0);
		absorb_pad(st, hash, k, k_len, 0x5c);
		memcpy(st->u.s256.outer, st->u.s256.inner.state, sizeof(st->u.s256.outer));
		(void)sha256_starts(&st->u.s256.inner, 0);
	}
	absorb_pad(st, hash, k, k_len, 0x36);
}

/* A key longer than a block: K0 is its hash.  Not inlined, so that the
 * digest's room is not in the usual path's frame. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void init_long_key(struct siot_hmac_state *st, enum siot_hash hash, const uint8_t *key,
			  size_t len)
{
	uint8_t k0[MAX_BLOCK / 2]; /* a digest: 32 or 64 bytes */

	hash_once(hash, key, len, k0);
	init_states(st, hash, k0, hash == SIOT_HASH_SHA512 ? 64 : 32);
	mbedtls_platform_zeroize(k0, sizeof(k0));
}

void siot_crypto_hmac_init(struct siot_hmac_state *st, enum siot_hash hash, const uint8_t *key,
			   size_t len)
{
	size_t block = hash == SIOT_HASH_SHA512 ? 128 : 64;

	if (len > block)
		init_long_key(st, hash, key, len);
	else
		init_states(st, hash, key, len);
}

void siot_crypto_hmac_update(struct siot_hmac_state *st, enum siot_hash hash, const void *data,
			     size_t len)
{
#if defined(MBEDTLS_SHA512_C)
	if (hash == SIOT_HASH_SHA512) {
		(void)sha512_update(&st->u.s512.inner, data, len);
		return;
	}
#endif
	(void)hash;
	(void)sha256_update(&st->u.s256.inner, data, len);
}

/* The inner hash, then the outer one in the same context: its chaining
 * value put back, one block (K0 ^ opad) counted as absorbed. */
void siot_crypto_hmac_final(struct siot_hmac_state *st, enum siot_hash hash, uint8_t *out)
{
	uint8_t ih[SIOT_MAX_DIGEST];

#if defined(MBEDTLS_SHA512_C)
	if (hash == SIOT_HASH_SHA512) {
		mbedtls_sha512_context *c = &st->u.s512.inner;

		(void)sha512_finish(c, ih);
		(void)sha512_starts(c, 0);
		memcpy(c->state, st->u.s512.outer, sizeof(st->u.s512.outer));
		c->total[0] = 128;
		(void)sha512_update(c, ih, 64);
		(void)sha512_finish(c, out);
		mbedtls_platform_zeroize(ih, sizeof(ih));
		return;
	}
#endif
	mbedtls_sha256_context *c = &st->u.s256.inner;

	(void)hash;
	(void)sha256_finish(c, ih);
	(void)sha256_starts(c, 0);
	memcpy(c->state, st->u.s256.outer, sizeof(st->u.s256.outer));
	c->total[0] = 64;
	(void)sha256_update(c, ih, 32);
	(void)sha256_finish(c, out);
	mbedtls_platform_zeroize(ih, sizeof(ih));
}

int siot_crypto_memcmp(const void *a, const void *b, size_t len)
{
	/* 0 or any non-zero value, in constant time; made 0 or -1 without a
	 * branch. */
	unsigned d = (unsigned)mbedtls_ct_memcmp(a, b, len);

	return -(int)((d | (0u - d)) >> (sizeof(unsigned) * CHAR_BIT - 1));
}

void siot_crypto_wipe(void *p, size_t len)
{
	mbedtls_platform_zeroize(p, len);
}

/* ---- the DRBG ------------------------------------------------------------ */

static mbedtls_hmac_drbg_context drbg;
static bool drbg_ready;

int siot_drbg_seed(const uint8_t *seed, size_t seed_len, const uint8_t *pers, size_t pers_len)
{
	uint8_t material[SIOT_DRBG_MAX_SEED + SIOT_DRBG_MAX_PERS];
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	int rc;

	if (seed_len < SIOT_DRBG_MIN_SEED || seed_len > SIOT_DRBG_MAX_SEED ||
	    pers_len > SIOT_DRBG_MAX_PERS || !md)
		return -EINVAL;
	if (drbg_ready)
		mbedtls_hmac_drbg_free(&drbg);
	drbg_ready = false;
	memcpy(material, seed, seed_len);
	if (pers_len)
		memcpy(material + seed_len, pers, pers_len);
	mbedtls_hmac_drbg_init(&drbg);
	rc = mbedtls_hmac_drbg_seed_buf(&drbg, md, material, seed_len + pers_len);
	mbedtls_platform_zeroize(material, sizeof(material));
	if (rc != 0) {
		mbedtls_hmac_drbg_free(&drbg);
		return -EIO;
	}
	drbg_ready = true;
	return 0;
}

int siot_drbg_mix(const uint8_t *data, size_t len)
{
	if (!drbg_ready)
		return -EIO;
	return drbg_update(&drbg, data, len) == 0 ? 0 : -EIO;
}

int siot_crypto_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	if (!drbg_ready)
		return -EIO;
	while (len) {
		size_t n = len < MBEDTLS_HMAC_DRBG_MAX_REQUEST ? len : MBEDTLS_HMAC_DRBG_MAX_REQUEST;

		if (mbedtls_hmac_drbg_random(&drbg, p, n) != 0) {
			mbedtls_platform_zeroize(buf, (size_t)(p - (uint8_t *)buf));
			return -EIO;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* ---- sealed output ------------------------------------------------------- */

static const uint8_t zero_nonce[12];

void siot_crypto_seal(uint8_t *out, const uint8_t *in, size_t len,
		      const uint8_t key[SIOT_SEAL_KEY_LEN])
{
	mbedtls_chachapoly_context c;

	mbedtls_chachapoly_init(&c);
	(void)mbedtls_chachapoly_setkey(&c, key);
	(void)mbedtls_chachapoly_encrypt_and_tag(&c, len, zero_nonce, NULL, 0, in, out, out + len);
	mbedtls_chachapoly_free(&c);
}

int siot_crypto_open(uint8_t *out, const uint8_t *sealed, size_t sealed_len,
		     const uint8_t key[SIOT_SEAL_KEY_LEN])
{
	mbedtls_chachapoly_context c;
	size_t len;
	int rc;

	if (sealed_len < SIOT_SEAL_OVERHEAD)
		return -EBADMSG;
	len = sealed_len - SIOT_SEAL_OVERHEAD;
	mbedtls_chachapoly_init(&c);
	(void)mbedtls_chachapoly_setkey(&c, key);
	rc = mbedtls_chachapoly_auth_decrypt(&c, len, zero_nonce, NULL, 0, sealed + len, sealed, out);
	mbedtls_chachapoly_free(&c);
	return rc == 0 ? 0 : -EBADMSG;
}

/* ---- key file text ------------------------------------------------------- */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int siot_crypto_hex2bin(uint8_t *out, size_t cap, const char *text, size_t len, size_t *out_len)
{
	if (len % 2 != 0 || len / 2 > cap)
		goto bad;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);

		if (hi < 0 || lo < 0)
			goto bad;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*out_len = len / 2;
	return 0;
bad:
	mbedtls_platform_zeroize(out, cap);
	return -EINVAL;
}

static bool base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

int siot_crypto_base642bin(uint8_t *out, size_t cap, const char *text, size_t len,
			   size_t *out_len)
{
	/* Mbed TLS skips line breaks and accepts non-zero trailing bits; key
	 * files may hold neither.  Only the alphabet goes in, and the result
	 * must encode back to the same text. */
	unsigned char again[4 * ((SIOT_MAX_KEY + 2) / 3) + 1];
	size_t n = 0, back = 0;

	if (len == 0 || len % 4 != 0 || len > sizeof(again) - 1 || cap > SIOT_MAX_KEY)
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (!base64_char(text[i]))
			goto bad;
	if (mbedtls_base64_decode(out, cap, &n, (const unsigned char *)text, len) != 0)
		goto bad;
	if (mbedtls_base64_encode(again, sizeof(again), &back, out, n) != 0 || back != len ||
	    siot_crypto_memcmp(again, text, len) != 0)
		goto bad;
	*out_len = n;
	return 0;
bad:
	mbedtls_platform_zeroize(out, cap);
	return -EINVAL;
}
