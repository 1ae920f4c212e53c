/* SPDX-License-Identifier: MIT */
/* The crypto seam (crypto.h) on libsodium: siot's default backend. */
#include "crypto.h"

#include <errno.h>

int siot_crypto_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void siot_crypto_hmac_init(struct siot_hmac_state *st, enum siot_hash hash, const uint8_t *key,
			   size_t len)
{
	if (hash == SIOT_HASH_SHA512)
		crypto_auth_hmacsha512_init(&st->u.s512, key, len);
	else
		crypto_auth_hmacsha256_init(&st->u.s256, key, len);
}

void siot_crypto_hmac_update(struct siot_hmac_state *st, enum siot_hash hash, const void *data,
			     size_t len)
{
	if (hash == SIOT_HASH_SHA512)
		crypto_auth_hmacsha512_update(&st->u.s512, data, len);
	else
		crypto_auth_hmacsha256_update(&st->u.s256, data, len);
}

void siot_crypto_hmac_final(struct siot_hmac_state *st, enum siot_hash hash, uint8_t *out)
{
	if (hash == SIOT_HASH_SHA512)
		crypto_auth_hmacsha512_final(&st->u.s512, out);
	else
		crypto_auth_hmacsha256_final(&st->u.s256, out);
}

int siot_crypto_memcmp(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len);
}

void siot_crypto_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

int siot_crypto_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
	return 0;
}

static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

void siot_crypto_seal(uint8_t *out, const uint8_t *in, size_t len,
		      const uint8_t key[SIOT_SEAL_KEY_LEN])
{
	unsigned long long clen = 0;

	crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, in, len, NULL, 0, NULL, zero_nonce,
						  key);
}

int siot_crypto_open(uint8_t *out, const uint8_t *sealed, size_t sealed_len,
		     const uint8_t key[SIOT_SEAL_KEY_LEN])
{
	unsigned long long mlen = 0;

	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, sealed, sealed_len, NULL,
						      0, zero_nonce, key) != 0)
		return -EBADMSG;
	return 0;
}

int siot_crypto_hex2bin(uint8_t *out, size_t cap, const char *text, size_t len, size_t *out_len)
{
	const char *end = NULL;

	if (sodium_hex2bin(out, cap, text, len, NULL, out_len, &end) != 0 || end != text + len) {
		sodium_memzero(out, cap);
		return -EINVAL;
	}
	return 0;
}

int siot_crypto_base642bin(uint8_t *out, size_t cap, const char *text, size_t len,
			   size_t *out_len)
{
	const char *end = NULL;

	if (sodium_base642bin(out, cap, text, len, NULL, out_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != text + len) {
		sodium_memzero(out, cap);
		return -EINVAL;
	}
	return 0;
}
