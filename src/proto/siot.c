/* SPDX-License-Identifier: MIT */
#include "siot.h"
#include "crypto.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/*
 * Declassification points: where a value computed from secrets (keys, tags)
 * becomes public by design, after a full constant-time scan or search.  In
 * the constant-time check build (-DSIOT_CT_CHECK, tests/ct) they tell
 * valgrind the value is defined from here on; anywhere else a branch or an
 * index on secret data is an error there.  Elsewhere they are nothing.
 */
#ifdef SIOT_CT_CHECK
#include <valgrind/memcheck.h>
#define DECLASSIFY(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define DECLASSIFY(p, n) ((void)0)
#endif

static const char LABEL_REQUEST[] = "siot-v1 request";
static const char LABEL_RESPONSE[] = "siot-v1 response";
static const char LABEL_OUTPUT[] = "siot-v1 output";

/* Stages of the stream parsers. */
enum {
	ST_ID_LEN = 0, ST_ID, ST_TAG, ST_REQ_DONE,            /* request */
	ST_HELLO = 10, ST_HELLO_DONE,                          /* hello */
	ST_RESP_HDR = 20, ST_RESP_SEALED, ST_RESP_TAG, ST_RESP_DONE, /* response */
};

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

static bool id_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool valid_name(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!id_char((unsigned char)s[i]))
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
static unsigned ct_eq_mask(const uint8_t *a, const uint8_t *b, size_t len)
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

static bool classic(const struct siot_exchange *ex)
{
	return ex->params.profile == SIOT_PROFILE_CLASSIC;
}

/* ---- server -------------------------------------------------------------- */

int siot_server_hello(struct siot_exchange *ex, const char *device_id, const uint8_t *challenge)
{
	const struct siot_params *p = &ex->params;
	size_t c = p->challenge_length, d = 0;
	uint8_t *h = ex->hello;

	if (!classic(ex)) {
		d = device_id ? strlen(device_id) : 0;
		if (!siot_valid_id(device_id, d))
			return -EINVAL;
		memcpy(h, SIOT_MAGIC, SIOT_MAGIC_LEN);
		h[4] = SIOT_VERSION;
		h[5] = (uint8_t)p->hash;
		h[6] = p->tag_length;
		h[7] = (uint8_t)c;
		h += 8;
	}
	if (challenge)
		memcpy(h, challenge, c);
	else if (siot_crypto_random(h, c) < 0)
		return -EIO;
	if (!classic(ex)) {
		h[c] = (uint8_t)d;
		memcpy(h + c + 1, device_id, d);
	}
	ex->hello_len = siot_hello_length(p, d);

	ex->client_id_len = 0;
	memset(ex->client_id, 0, sizeof(ex->client_id));
	ex->client_id_valid = false;
	ex->tag_len = classic(ex) ? siot_digest_length(p->hash) : p->tag_length;
	ex->have = 0;
	ex->stage = classic(ex) ? ST_TAG : ST_ID_LEN;
	ex->reason = SIOT_REASON_NONE;
	return 0;
}

enum siot_feed siot_server_feed(struct siot_exchange *ex, const uint8_t *buf, size_t len,
				size_t *consumed)
{
	size_t i = 0;

	*consumed = 0;
	if (ex->stage < ST_ID_LEN || ex->stage > ST_REQ_DONE) {
		ex->reason = SIOT_REASON_STATE;
		return SIOT_FEED_MALFORMED;
	}
	while (i < len && ex->stage != ST_REQ_DONE) {
		size_t take;

		switch (ex->stage) {
		case ST_ID_LEN:
			if (buf[i] == 0 || buf[i] > SIOT_MAX_ID) {
				ex->reason = SIOT_REASON_ID_LENGTH;
				*consumed = i + 1;
				return SIOT_FEED_MALFORMED;
			}
			ex->client_id_len = buf[i++];
			ex->have = 0;
			ex->stage = ST_ID;
			break;
		case ST_ID:
			take = ex->client_id_len - ex->have;
			take = take < len - i ? take : len - i;
			memcpy(ex->client_id + ex->have, buf + i, take);
			ex->have += take;
			i += take;
			if (ex->have == ex->client_id_len) {
				ex->client_id_valid = siot_valid_id(ex->client_id, ex->client_id_len);
				ex->have = 0;
				ex->stage = ST_TAG;
			}
			break;
		case ST_TAG:
			take = ex->tag_len - ex->have;
			take = take < len - i ? take : len - i;
			memcpy(ex->tag + ex->have, buf + i, take);
			ex->have += take;
			i += take;
			if (ex->have == ex->tag_len)
				ex->stage = ST_REQ_DONE;
			break;
		default:
			break;
		}
	}
	*consumed = i;
	return ex->stage == ST_REQ_DONE ? SIOT_FEED_DONE : SIOT_FEED_MORE;
}

/* Start the v1 request MAC up to and including lp(client_id). */
/* The request MAC's input up to the command, absorbed into a state that
 * holds the key. */
static void request_prefix_state(enum siot_hash hash, struct siot_hmac_state *st,
				 const struct siot_exchange *ex)
{
	siot_crypto_hmac_update(st, hash, LABEL_REQUEST, sizeof(LABEL_REQUEST)); /* with its NUL */
	siot_crypto_hmac_update(st, hash, ex->hello, ex->hello_len);
	siot_crypto_hmac_update(st, hash, &ex->client_id_len, 1);
	siot_crypto_hmac_update(st, hash, ex->client_id, ex->client_id_len);
}

static void request_prefix(struct siot_mac *m, const struct siot_exchange *ex,
			   const struct siot_key *key)
{
	siot_mac_start(m, key);
	request_prefix_state(m->hash, &m->st, ex);
}

/* Every candidate from the prefix state, without an early exit. */
static int scan_v1(struct siot_exchange *ex, enum siot_hash hash,
		   const struct siot_hmac_state *prefix, const char *const *commands, size_t n,
		   size_t *match)
{
	struct siot_mac m;
	uint8_t digest[SIOT_MAX_DIGEST];
	unsigned found = 0;
	size_t index = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned eq;

		m.hash = hash;
		m.st = *prefix;
		siot_mac_update(&m, commands[i], strlen(commands[i]));
		siot_mac_final(&m, digest);
		ex->macs++;
		eq = ct_eq_mask(digest, ex->tag, ex->tag_len);
		index = (index & ~(size_t)eq) | (i & (size_t)eq);
		found |= eq;
	}
	siot_crypto_wipe(digest, sizeof(digest));
	DECLASSIFY(&found, sizeof(found)); /* the scan is over: which one matched is public */
	DECLASSIFY(&index, sizeof(index));
	if (!found)
		return 0;
	*match = index;
	return 1;
}

int siot_server_scan(struct siot_exchange *ex, const struct siot_key *key,
		     const char *const *commands, size_t n, size_t *match)
{
	struct siot_mac prefix;
	int r;

	if (classic(ex) || ex->stage != ST_REQ_DONE || key->hash != ex->params.hash)
		return -EINVAL;
	request_prefix(&prefix, ex, key);
	r = scan_v1(ex, prefix.hash, &prefix.st, commands, n, match);
	siot_crypto_wipe(&prefix, sizeof(prefix));
	return r;
}

int siot_server_scan_consume(struct siot_exchange *ex, struct siot_key *key,
			     const char *const *commands, size_t n, size_t *match)
{
	int r;

	if (classic(ex) || ex->stage != ST_REQ_DONE || key->hash != ex->params.hash) {
		siot_key_wipe(key);
		return -EINVAL;
	}
	request_prefix_state(key->hash, &key->st, ex);
	r = scan_v1(ex, key->hash, &key->st, commands, n, match);
	siot_key_wipe(key);
	return r;
}

void siot_server_scan_one(struct siot_exchange *ex, struct siot_key *key, const char *command,
			  size_t i, struct siot_scan *scan)
{
	uint8_t digest[SIOT_MAX_DIGEST];
	unsigned eq;

	if (ex->stage != ST_REQ_DONE || key->hash != ex->params.hash) {
		scan->misuse = 1;
		siot_key_wipe(key);
		return;
	}
	if (classic(ex))
		siot_crypto_hmac_update(&key->st, key->hash, ex->hello, ex->hello_len);
	else
		request_prefix_state(key->hash, &key->st, ex);
	siot_crypto_hmac_update(&key->st, key->hash, command, strlen(command));
	siot_crypto_hmac_final(&key->st, key->hash, digest);
	ex->macs++;
	eq = ct_eq_mask(digest, ex->tag, ex->tag_len);
	scan->index = (scan->index & ~(size_t)eq) | (i & (size_t)eq);
	scan->found |= eq;
	siot_crypto_wipe(digest, sizeof(digest));
	siot_key_wipe(key);
}

int siot_server_scan_end(struct siot_scan *scan, size_t *match)
{
	unsigned found = scan->found, misuse = scan->misuse;
	size_t index = scan->index;

	DECLASSIFY(&found, sizeof(found)); /* every candidate is done: public */
	DECLASSIFY(&index, sizeof(index));
	*scan = (struct siot_scan){ 0 };
	if (misuse)
		return -EINVAL;
	if (!found)
		return 0;
	*match = index;
	return 1;
}

int siot_server_scan_classic(struct siot_exchange *ex, const struct siot_candidate *c, size_t n,
			     size_t *match)
{
	struct siot_mac m;
	uint8_t digest[SIOT_MAX_DIGEST];
	unsigned found = 0;
	size_t index = 0;

	if (!classic(ex) || ex->stage != ST_REQ_DONE)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned eq;

		if (c[i].key->hash != ex->params.hash)
			return -EINVAL;
		siot_mac_start(&m, c[i].key);
		siot_mac_update(&m, ex->hello, ex->hello_len);
		siot_mac_update(&m, c[i].command, strlen(c[i].command));
		siot_mac_final(&m, digest);
		ex->macs++;
		eq = ct_eq_mask(digest, ex->tag, ex->tag_len);
		index = (index & ~(size_t)eq) | (i & (size_t)eq);
		found |= eq;
	}
	siot_crypto_wipe(digest, sizeof(digest));
	DECLASSIFY(&found, sizeof(found));
	DECLASSIFY(&index, sizeof(index));
	if (!found)
		return 0;
	*match = index;
	return 1;
}

/* K_out = H(K, "siot-v1 output" 0 HELLO request_tag), first 32 bytes. */
static void output_key(const struct siot_exchange *ex, const struct siot_key *key,
		       uint8_t out[SIOT_SEAL_KEY_LEN])
{
	struct siot_mac m;
	uint8_t digest[SIOT_MAX_DIGEST];

	siot_mac_start(&m, key);
	siot_mac_update(&m, LABEL_OUTPUT, sizeof(LABEL_OUTPUT));
	siot_mac_update(&m, ex->hello, ex->hello_len);
	siot_mac_update(&m, ex->tag, ex->tag_len);
	siot_mac_final(&m, digest);
	memcpy(out, digest, SIOT_SEAL_KEY_LEN);
	siot_crypto_wipe(digest, sizeof(digest));
}

/* Response MAC up to, not including, the result byte; header = status and
 * output_length as sent. */
static void response_prefix_state(enum siot_hash hash, struct siot_hmac_state *st,
				  const struct siot_exchange *ex, const uint8_t header[3],
				  const uint8_t *sealed, size_t sealed_len)
{
	siot_crypto_hmac_update(st, hash, LABEL_RESPONSE, sizeof(LABEL_RESPONSE));
	siot_crypto_hmac_update(st, hash, ex->hello, ex->hello_len);
	siot_crypto_hmac_update(st, hash, &ex->client_id_len, 1);
	siot_crypto_hmac_update(st, hash, ex->client_id, ex->client_id_len);
	siot_crypto_hmac_update(st, hash, ex->tag, ex->tag_len);
	siot_crypto_hmac_update(st, hash, header, 3);
	siot_crypto_hmac_update(st, hash, sealed, sealed_len);
}

int siot_server_response(struct siot_exchange *ex, const struct siot_key *key, uint8_t status,
			 uint8_t result, const uint8_t *output, size_t output_len, uint8_t *out,
			 size_t cap)
{
	struct siot_key k = *key;

	return siot_server_response_consume(ex, &k, status, result, output, output_len, out, cap);
}

int siot_server_response_consume(struct siot_exchange *ex, struct siot_key *key, uint8_t status,
				 uint8_t result, const uint8_t *output, size_t output_len,
				 uint8_t *out, size_t cap)
{
	uint8_t digest[SIOT_MAX_DIGEST];
	size_t sealed_len = output_len ? output_len + SIOT_SEAL_OVERHEAD : 0;
	size_t total = SIOT_RESPONSE_FIXED + sealed_len + ex->params.tag_length;
	int r = (int)total;

	if (classic(ex) || ex->stage != ST_REQ_DONE || key->hash != ex->params.hash ||
	    output_len > SIOT_MAX_OUTPUT || (output_len && !output)) {
		r = -EINVAL;
		goto out;
	}
	if (cap < total) {
		r = -ENOBUFS;
		goto out;
	}
	out[0] = status;
	out[1] = (uint8_t)(output_len >> 8);
	out[2] = (uint8_t)output_len;
	if (SIOT_MAX_OUTPUT > 0 && output_len) { /* a build without output has no sealing */
		uint8_t k_out[SIOT_SEAL_KEY_LEN];

		output_key(ex, key, k_out);
		siot_crypto_seal(out + 3, output, output_len, k_out);
		siot_crypto_wipe(k_out, sizeof(k_out));
	}
	response_prefix_state(key->hash, &key->st, ex, out, out + 3, sealed_len);
	siot_crypto_hmac_update(&key->st, key->hash, &result, 1);
	siot_crypto_hmac_final(&key->st, key->hash, digest);
	ex->macs++;
	memcpy(out + 3 + sealed_len, digest, ex->params.tag_length);
	siot_crypto_wipe(digest, sizeof(digest));
out:
	siot_key_wipe(key);
	return r;
}

int siot_server_response_classic(struct siot_exchange *ex, const struct siot_key *key,
				 uint8_t result, uint8_t out[SIOT_MAX_DIGEST])
{
	struct siot_key k = *key;

	return siot_server_response_classic_consume(ex, &k, result, out);
}

int siot_server_response_classic_consume(struct siot_exchange *ex, struct siot_key *key,
					 uint8_t result, uint8_t out[SIOT_MAX_DIGEST])
{
	int r = (int)siot_digest_length(ex->params.hash);

	if (!classic(ex) || ex->stage != ST_REQ_DONE || key->hash != ex->params.hash) {
		r = -EINVAL;
	} else {
		siot_crypto_hmac_update(&key->st, key->hash, ex->hello, ex->hello_len);
		siot_crypto_hmac_update(&key->st, key->hash, &result, 1);
		siot_crypto_hmac_final(&key->st, key->hash, out);
		ex->macs++;
	}
	siot_key_wipe(key);
	return r;
}

#if !SIOT_SERVER_ONLY
/* ---- client -------------------------------------------------------------- */

static void response_prefix(struct siot_mac *m, const struct siot_exchange *ex,
			    const struct siot_key *key, const uint8_t header[3],
			    const uint8_t *sealed, size_t sealed_len)
{
	siot_mac_start(m, key);
	response_prefix_state(m->hash, &m->st, ex, header, sealed, sealed_len);
}


/* Check HELLO byte number `at` (already stored) against our parameters. */
static enum siot_reason hello_byte_check(struct siot_exchange *ex, size_t at)
{
	const struct siot_params *p = &ex->params;
	uint8_t b = ex->hello[at];
	size_t c = p->challenge_length;

	if (at < SIOT_MAGIC_LEN)
		return b == (uint8_t)SIOT_MAGIC[at] ? SIOT_REASON_NONE : SIOT_REASON_MAGIC;
	switch (at) {
	case 4:
		ex->peer_version = b;
		return b == SIOT_VERSION ? SIOT_REASON_NONE : SIOT_REASON_VERSION;
	case 5:
		ex->peer_hash_id = b;
		return b == (uint8_t)p->hash ? SIOT_REASON_NONE : SIOT_REASON_HASH;
	case 6:
		ex->peer_tag_length = b;
		return b == p->tag_length ? SIOT_REASON_NONE : SIOT_REASON_TAG_LENGTH;
	case 7:
		ex->peer_challenge_length = b;
		return b == c ? SIOT_REASON_NONE : SIOT_REASON_CHALLENGE_LENGTH;
	default:
		break;
	}
	if (at == 8 + c) {
		ex->device_id_len = b;
		return b >= 1 && b <= SIOT_MAX_ID ? SIOT_REASON_NONE : SIOT_REASON_DEVICE_ID;
	}
	if (at > 8 + c)
		return id_char(b) ? SIOT_REASON_NONE : SIOT_REASON_DEVICE_ID;
	return SIOT_REASON_NONE;
}

enum siot_feed siot_client_feed_hello(struct siot_exchange *ex, const uint8_t *buf, size_t len,
				      size_t *consumed)
{
	size_t i = 0;

	*consumed = 0;
	if (ex->stage == -1 || ex->stage == ST_RESP_DONE || ex->stage == ST_HELLO_DONE) {
		/* A new HELLO (first, or the next one on a kept-open connection). */
		ex->stage = ST_HELLO;
		ex->have = 0;
		ex->hello_len = 0;
		ex->device_id_len = 0;
		memset(ex->device_id, 0, sizeof(ex->device_id));
	} else if (ex->stage != ST_HELLO) {
		ex->reason = SIOT_REASON_STATE;
		return SIOT_FEED_MALFORMED;
	}
	if (classic(ex)) {
		size_t want = ex->params.challenge_length - ex->have;
		size_t take = want < len ? want : len;

		memcpy(ex->hello + ex->have, buf, take);
		ex->have += take;
		*consumed = take;
		if (ex->have < ex->params.challenge_length)
			return SIOT_FEED_MORE;
		ex->hello_len = ex->have;
		ex->stage = ST_HELLO_DONE;
		return SIOT_FEED_DONE;
	}
	while (i < len) {
		size_t at = ex->have;
		enum siot_reason r;

		ex->hello[at] = buf[i++];
		ex->have++;
		r = hello_byte_check(ex, at);
		if (r != SIOT_REASON_NONE) {
			ex->reason = r;
			*consumed = i;
			return SIOT_FEED_MALFORMED;
		}
		if (at >= 8u + ex->params.challenge_length &&
		    ex->have == siot_hello_length(&ex->params, ex->device_id_len)) {
			memcpy(ex->device_id, ex->hello + 9 + ex->params.challenge_length,
			       ex->device_id_len);
			ex->hello_len = ex->have;
			ex->stage = ST_HELLO_DONE;
			*consumed = i;
			return SIOT_FEED_DONE;
		}
	}
	*consumed = i;
	return SIOT_FEED_MORE;
}

int siot_client_request(struct siot_exchange *ex, const struct siot_key *key,
			const char *client_id, const char *command, uint8_t *out, size_t cap)
{
	struct siot_mac m;
	uint8_t digest[SIOT_MAX_DIGEST];
	size_t id_len = 0, cmd_len = strlen(command), total;

	if (ex->stage != ST_HELLO_DONE || key->hash != ex->params.hash ||
	    !siot_valid_command(command, cmd_len))
		return -EINVAL;
	if (classic(ex)) {
		ex->tag_len = siot_digest_length(ex->params.hash);
		total = ex->tag_len;
	} else {
		id_len = client_id ? strlen(client_id) : 0;
		if (!siot_valid_id(client_id, id_len))
			return -EINVAL;
		ex->tag_len = ex->params.tag_length;
		total = 1 + id_len + ex->tag_len;
	}
	if (cap < total)
		return -ENOBUFS;

	if (classic(ex)) {
		siot_mac_start(&m, key);
		siot_mac_update(&m, ex->hello, ex->hello_len);
	} else {
		ex->client_id_len = (uint8_t)id_len;
		memset(ex->client_id, 0, sizeof(ex->client_id));
		memcpy(ex->client_id, client_id, id_len);
		ex->client_id_valid = true;
		request_prefix(&m, ex, key);
	}
	siot_mac_update(&m, command, cmd_len);
	siot_mac_final(&m, digest);
	ex->macs++;
	memcpy(ex->tag, digest, ex->tag_len);
	siot_crypto_wipe(digest, sizeof(digest));

	if (classic(ex)) {
		memcpy(out, ex->tag, ex->tag_len);
	} else {
		out[0] = (uint8_t)id_len;
		memcpy(out + 1, client_id, id_len);
		memcpy(out + 1 + id_len, ex->tag, ex->tag_len);
	}
	ex->stage = ST_RESP_HDR;
	ex->have = 0;
	ex->status = 0;
	ex->output_len = 0;
	return (int)total;
}

void siot_client_set_output_limit(struct siot_exchange *ex, size_t limit)
{
	ex->response_limit = limit > SIOT_MAX_OUTPUT ? SIOT_MAX_OUTPUT : limit;
}

static size_t response_tag_len(const struct siot_exchange *ex)
{
	return classic(ex) ? siot_digest_length(ex->params.hash) : ex->params.tag_length;
}

enum siot_feed siot_client_feed_response(struct siot_exchange *ex, const uint8_t *buf, size_t len,
					 size_t *consumed)
{
	size_t i = 0;

	*consumed = 0;
	if (ex->stage < ST_RESP_HDR || ex->stage > ST_RESP_DONE) {
		ex->reason = SIOT_REASON_STATE;
		return SIOT_FEED_MALFORMED;
	}
	if (classic(ex) && ex->stage == ST_RESP_HDR)
		ex->stage = ST_RESP_TAG;
	while (i < len && ex->stage != ST_RESP_DONE) {
		size_t want, take;

		switch (ex->stage) {
		case ST_RESP_HDR:
			if (ex->have == 0)
				ex->status = buf[i];
			else if (ex->have == 1)
				ex->output_len = (uint16_t)(buf[i] << 8);
			else
				ex->output_len = (uint16_t)(ex->output_len | buf[i]);
			i++;
			if (++ex->have == SIOT_RESPONSE_FIXED) {
				if (ex->output_len > ex->response_limit) {
					ex->reason = SIOT_REASON_OUTPUT_LENGTH;
					*consumed = i;
					return SIOT_FEED_MALFORMED;
				}
				ex->have = 0;
				ex->stage = ex->output_len ? ST_RESP_SEALED : ST_RESP_TAG;
			}
			break;
		case ST_RESP_SEALED:
			want = (size_t)ex->output_len + SIOT_SEAL_OVERHEAD - ex->have;
			take = want < len - i ? want : len - i;
			memcpy(ex->sealed + ex->have, buf + i, take);
			ex->have += take;
			i += take;
			if (take == want) {
				ex->have = 0;
				ex->stage = ST_RESP_TAG;
			}
			break;
		case ST_RESP_TAG:
			want = response_tag_len(ex) - ex->have;
			take = want < len - i ? want : len - i;
			memcpy(ex->response_tag + ex->have, buf + i, take);
			ex->have += take;
			i += take;
			if (take == want)
				ex->stage = ST_RESP_DONE;
			break;
		default:
			break;
		}
	}
	*consumed = i;
	return ex->stage == ST_RESP_DONE ? SIOT_FEED_DONE : SIOT_FEED_MORE;
}

int siot_client_verify(struct siot_exchange *ex, const struct siot_key *key, uint8_t *result,
		       uint8_t *output, size_t *output_len)
{
	struct siot_mac prefix, m;
	uint8_t digest[SIOT_MAX_DIGEST], header[3];
	size_t tlen = response_tag_len(ex);
	size_t sealed_len = ex->output_len ? (size_t)ex->output_len + SIOT_SEAL_OVERHEAD : 0;
	unsigned found = 0, value = 0;

	if (ex->stage != ST_RESP_DONE || key->hash != ex->params.hash)
		return -EINVAL;
	if (classic(ex)) {
		siot_mac_start(&prefix, key);
		siot_mac_update(&prefix, ex->hello, ex->hello_len);
	} else {
		header[0] = ex->status;
		header[1] = (uint8_t)(ex->output_len >> 8);
		header[2] = (uint8_t)ex->output_len;
		response_prefix(&prefix, ex, key, header, ex->sealed, sealed_len);
	}
	for (unsigned r = 0; r < 256; r++) {
		uint8_t byte = (uint8_t)r;
		unsigned eq;

		m = prefix;
		siot_mac_update(&m, &byte, 1);
		siot_mac_final(&m, digest);
		ex->macs++;
		eq = ct_eq_mask(digest, ex->response_tag, tlen);
		value = (value & ~eq) | (r & eq);
		found |= eq;
	}
	siot_crypto_wipe(&prefix, sizeof(prefix));
	siot_crypto_wipe(digest, sizeof(digest));
	DECLASSIFY(&found, sizeof(found)); /* all 256 tried: the result is public */
	DECLASSIFY(&value, sizeof(value));
	if (!found)
		return -EBADMSG;

	if (output_len)
		*output_len = 0;
	if (sealed_len && output) {
		uint8_t k_out[SIOT_SEAL_KEY_LEN];
		int rc;

		output_key(ex, key, k_out);
		rc = siot_crypto_open(output, ex->sealed, sealed_len, k_out);
		siot_crypto_wipe(k_out, sizeof(k_out));
		if (rc != 0) {
			siot_crypto_wipe(output, SIOT_MAX_OUTPUT);
			return -EBADMSG;
		}
		if (output_len)
			*output_len = sealed_len - SIOT_SEAL_OVERHEAD;
	}
	*result = (uint8_t)value;
	return 0;
}
#endif /* !SIOT_SERVER_ONLY */
