/* SPDX-License-Identifier: MIT */
#include "siot_internal.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

size_t siot_digest_length(enum siot_hash hash)
{
	switch (hash) {
	case SIOT_HASH_SHA256:
		return SIOT_SHA256_LEN;
	case SIOT_HASH_SHA512:
		return SIOT_CRYPTO_SHA512 ? SIOT_SHA512_LEN : 0;
	}
	return 0;
}

bool siot_id_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool valid_name(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!siot_id_char((unsigned char)s[i]))
			return false;
	return true;
}

bool siot_valid_id(const char *s, size_t len)
{
	return valid_name(s, len, SIOT_MAX_ID);
}

bool siot_valid_command(const char *s, size_t len)
{
	return valid_name(s, len, SIOT_MAX_COMMAND);
}

int siot_init(void)
{
	return siot_crypto_init();
}

int siot_random(void *buf, size_t len)
{
	return siot_crypto_random(buf, len);
}

int siot_params_init(struct siot_params *p, enum siot_profile profile, enum siot_hash hash,
		     unsigned tag_length, unsigned challenge_length, unsigned wakeup_length)
{
	size_t dl = siot_digest_length(hash);

	if (dl == 0 || (profile != SIOT_PROFILE_V1 && profile != SIOT_PROFILE_CLASSIC))
		return -EINVAL;
	if (tag_length == 0 || profile == SIOT_PROFILE_CLASSIC)
		tag_length = (unsigned)dl;
	if (tag_length < SIOT_MIN_TAG || tag_length > dl)
		return -EINVAL;
	if (challenge_length < SIOT_MIN_CHALLENGE || challenge_length > SIOT_MAX_CHALLENGE)
		return -EINVAL;
	if (wakeup_length > SIOT_MAX_WAKEUP)
		return -EINVAL;
	*p = (struct siot_params){
		.profile = profile,
		.hash = hash,
		.tag_length = (uint8_t)tag_length,
		.challenge_length = (uint8_t)challenge_length,
		.wakeup_length = (uint8_t)wakeup_length,
	};
	return 0;
}

/* ---- keys and MACs ------------------------------------------------------- */

int siot_key_init(struct siot_key *k, enum siot_hash hash, const uint8_t *key, size_t len)
{
	if (siot_digest_length(hash) == 0)
		return -EINVAL;
	k->hash = hash;
	siot_crypto_hmac_init(&k->st, hash, key, len);
	return 0;
}

void siot_key_wipe(struct siot_key *k)
{
	siot_crypto_wipe(k, sizeof(*k));
}

static bool is_hex(const char *s, size_t len)
{
	if (len < 2 * SIOT_MIN_KEY || len > 2 * SIOT_MAX_KEY || len % 2 != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

int siot_key_decode(const char *text, size_t text_len, uint8_t out[SIOT_MAX_KEY], size_t *len)
{
	size_t n = text_len, bin_len = 0;
	int r;

	if (n > 0 && text[n - 1] == '\n') {
		n--;
		if (n > 0 && text[n - 1] == '\r')
			n--;
	}
	if (memchr(text, '\n', n) || memchr(text, '\0', n))
		return -EINVAL;
	if (is_hex(text, n))
		r = siot_crypto_hex2bin(out, SIOT_MAX_KEY, text, n, &bin_len);
	else
		r = siot_crypto_base642bin(out, SIOT_MAX_KEY, text, n, &bin_len);
	if (r != 0 || bin_len < SIOT_MIN_KEY || bin_len > SIOT_MAX_KEY) {
		siot_crypto_wipe(out, SIOT_MAX_KEY);
		return -EINVAL;
	}
	*len = bin_len;
	return 0;
}

void siot_mac_start(struct siot_mac *m, const struct siot_key *k)
{
	m->hash = k->hash;
	memcpy(&m->st, &k->st, sizeof(m->st));
}

void siot_mac_update(struct siot_mac *m, const void *data, size_t len)
{
	siot_crypto_hmac_update(&m->st, m->hash, data, len);
}

void siot_mac_final(struct siot_mac *m, uint8_t out[SIOT_MAX_DIGEST])
{
	siot_crypto_hmac_final(&m->st, m->hash, out);
	siot_crypto_wipe(m, sizeof(*m));
}

int siot_hmac(enum siot_hash hash, const uint8_t *key, size_t key_len, const void *data,
	      size_t len, uint8_t out[SIOT_MAX_DIGEST])
{
	struct siot_key k;
	struct siot_mac m;

	if (siot_key_init(&k, hash, key, key_len) < 0)
		return -EINVAL;
	siot_mac_start(&m, &k);
	siot_key_wipe(&k);
	siot_mac_update(&m, data, len);
	siot_mac_final(&m, out);
	return 0;
}

/* Mask of all ones when a == b (tags of len bytes), else 0; constant time. */
unsigned siot_ct_eq_mask(const uint8_t *a, const uint8_t *b, size_t len)
{
	/* siot_crypto_memcmp returns 0 or -1 in time independent of the
	 * contents. */
	unsigned eq = (unsigned)(siot_crypto_memcmp(a, b, len) + 1);
	return 0u - eq;
}

/* ---- exchange ------------------------------------------------------------ */

/* Zero everything but the response's sealed output (4 KiB): the response
 * parser writes it before anything reads it, and ex->output_len says how
 * much of it holds anything. */
static void zero_but_sealed(struct siot_exchange *ex)
{
#if SIOT_SERVER_ONLY
	siot_crypto_wipe(ex, sizeof(*ex));
#else
	size_t at = offsetof(struct siot_exchange, sealed);
	size_t after = at + sizeof(ex->sealed);

	siot_crypto_wipe(ex, at);
	siot_crypto_wipe((uint8_t *)ex + after, sizeof(*ex) - after);
#endif
}

void siot_exchange_init(struct siot_exchange *ex, const struct siot_params *p)
{
	zero_but_sealed(ex);
	ex->params = *p;
	ex->tag_len = p->tag_length;
#if !SIOT_SERVER_ONLY
	ex->response_limit = SIOT_MAX_OUTPUT;
#endif
	ex->stage = -1;
}

void siot_exchange_wipe(struct siot_exchange *ex)
{
#if !SIOT_SERVER_ONLY
	size_t used = (size_t)ex->output_len + SIOT_SEAL_OVERHEAD;

	siot_crypto_wipe(ex->sealed, used < sizeof(ex->sealed) ? used : sizeof(ex->sealed));
#endif
	zero_but_sealed(ex);
}

size_t siot_hello_length(const struct siot_params *p, size_t device_id_len)
{
	if (p->profile == SIOT_PROFILE_CLASSIC)
		return p->challenge_length;
	return SIOT_HELLO_FIXED + p->challenge_length + device_id_len;
}

bool siot_is_classic(const struct siot_exchange *ex)
{
	return ex->params.profile == SIOT_PROFILE_CLASSIC;
}
