/* SPDX-License-Identifier: MIT */
/* The protocol's server half: HELLO, the request parser, the constant-time
 * scans (v1 and classic) and the responses. */
#include "siot_internal.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* ---- server -------------------------------------------------------------- */

int siot_server_hello(struct siot_exchange *ex, const char *device_id, const uint8_t *challenge)
{
	const struct siot_params *p = &ex->params;
	size_t c = p->challenge_length, d = 0;
	uint8_t *h = ex->hello;

	if (!siot_is_classic(ex)) {
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
	if (!siot_is_classic(ex)) {
		h[c] = (uint8_t)d;
		memcpy(h + c + 1, device_id, d);
	}
	ex->hello_len = siot_hello_length(p, d);

	ex->client_id_len = 0;
	memset(ex->client_id, 0, sizeof(ex->client_id));
	ex->client_id_valid = false;
	ex->tag_len = siot_is_classic(ex) ? siot_digest_length(p->hash) : p->tag_length;
	ex->have = 0;
	ex->stage = siot_is_classic(ex) ? ST_TAG : ST_ID_LEN;
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

void siot_request_prefix(struct siot_mac *m, const struct siot_exchange *ex,
			 const struct siot_key *key)
{
	siot_mac_start(m, key);
	request_prefix_state(m->hash, &m->st, ex);
}

/* One candidate's MAC counted, compared in constant time and folded into
 * *scan without a branch: every scan's step. */
static void scan_fold(struct siot_exchange *ex, const uint8_t *digest, size_t i,
		      struct siot_scan *scan)
{
	unsigned eq;

	ex->macs++;
	eq = siot_ct_eq_mask(digest, ex->tag, ex->tag_len);
	scan->index = (scan->index & ~(size_t)eq) | (i & (size_t)eq);
	scan->found |= eq;
}

/* Every candidate from the prefix state, without an early exit. */
static int scan_v1(struct siot_exchange *ex, enum siot_hash hash,
		   const struct siot_hmac_state *prefix, const char *const *commands, size_t n,
		   size_t *match)
{
	struct siot_mac m;
	struct siot_scan scan = { 0 };
	uint8_t digest[SIOT_MAX_DIGEST];

	for (size_t i = 0; i < n; i++) {
		m.hash = hash;
		m.st = *prefix;
		siot_mac_update(&m, commands[i], strlen(commands[i]));
		siot_mac_final(&m, digest);
		scan_fold(ex, digest, i, &scan);
	}
	siot_crypto_wipe(digest, sizeof(digest));
	return siot_server_scan_end(&scan, match);
}

int siot_server_scan(struct siot_exchange *ex, const struct siot_key *key,
		     const char *const *commands, size_t n, size_t *match)
{
	struct siot_mac prefix;
	int r;

	if (siot_is_classic(ex) || ex->stage != ST_REQ_DONE || key->hash != ex->params.hash)
		return -EINVAL;
	siot_request_prefix(&prefix, ex, key);
	r = scan_v1(ex, prefix.hash, &prefix.st, commands, n, match);
	siot_crypto_wipe(&prefix, sizeof(prefix));
	return r;
}

int siot_server_scan_consume(struct siot_exchange *ex, struct siot_key *key,
			     const char *const *commands, size_t n, size_t *match)
{
	int r;

	if (siot_is_classic(ex) || ex->stage != ST_REQ_DONE || key->hash != ex->params.hash) {
		siot_key_wipe(key);
		return -EINVAL;
	}
	request_prefix_state(key->hash, &key->st, ex);
	r = scan_v1(ex, key->hash, &key->st, commands, n, match);
	siot_key_wipe(key);
	return r;
}

int siot_server_scan_prefix(struct siot_exchange *ex, struct siot_key *key, struct siot_scan *scan)
{
	if (ex->stage != ST_REQ_DONE || key->hash != ex->params.hash) {
		scan->misuse = 1;
		siot_key_wipe(key);
		return -EINVAL;
	}
	if (siot_is_classic(ex))
		siot_crypto_hmac_update(&key->st, key->hash, ex->hello, ex->hello_len);
	else
		request_prefix_state(key->hash, &key->st, ex);
	return 0;
}

/* The prefix made in the key's own state, then the command: one state. */
void siot_server_scan_one(struct siot_exchange *ex, struct siot_key *key, const char *command,
			  size_t i, struct siot_scan *scan)
{
	uint8_t digest[SIOT_MAX_DIGEST];

	if (siot_server_scan_prefix(ex, key, scan) < 0)
		return;
	siot_crypto_hmac_update(&key->st, key->hash, command, strlen(command));
	siot_crypto_hmac_final(&key->st, key->hash, digest);
	scan_fold(ex, digest, i, scan);
	siot_crypto_wipe(digest, sizeof(digest));
	siot_key_wipe(key);
}

void siot_server_scan_from(struct siot_exchange *ex, const struct siot_key *prefix,
			   const char *command, size_t i, struct siot_scan *scan)
{
	struct siot_mac m;
	uint8_t digest[SIOT_MAX_DIGEST];

	/* Out of order: the MAC is still made (the count stays the same) and
	 * the scan ends in -EINVAL. */
	scan->misuse |= ex->stage != ST_REQ_DONE || prefix->hash != ex->params.hash;
	m.hash = prefix->hash;
	m.st = prefix->st;
	siot_mac_update(&m, command, strlen(command));
	siot_mac_final(&m, digest);
	scan_fold(ex, digest, i, scan);
	siot_crypto_wipe(digest, sizeof(digest));
	siot_crypto_wipe(&m, sizeof(m));
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
	struct siot_scan scan = { 0 };
	uint8_t digest[SIOT_MAX_DIGEST];

	if (!siot_is_classic(ex) || ex->stage != ST_REQ_DONE)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (c[i].key->hash != ex->params.hash)
			return -EINVAL;
		siot_mac_start(&m, c[i].key);
		siot_mac_update(&m, ex->hello, ex->hello_len);
		siot_mac_update(&m, c[i].command, strlen(c[i].command));
		siot_mac_final(&m, digest);
		scan_fold(ex, digest, i, &scan);
	}
	siot_crypto_wipe(digest, sizeof(digest));
	return siot_server_scan_end(&scan, match);
}

/* K_out = H(K, "siot-v1 output" 0 HELLO request_tag), first 32 bytes. */
void siot_output_key(const struct siot_exchange *ex, const struct siot_key *key,
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
void siot_response_prefix_state(enum siot_hash hash, struct siot_hmac_state *st,
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

	if (siot_is_classic(ex) || ex->stage != ST_REQ_DONE || key->hash != ex->params.hash ||
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

		siot_output_key(ex, key, k_out);
		siot_crypto_seal(out + 3, output, output_len, k_out);
		siot_crypto_wipe(k_out, sizeof(k_out));
	}
	siot_response_prefix_state(key->hash, &key->st, ex, out, out + 3, sealed_len);
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

	if (!siot_is_classic(ex) || ex->stage != ST_REQ_DONE || key->hash != ex->params.hash) {
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
