/* SPDX-License-Identifier: MIT */
/* The protocol's client half: the HELLO's checks, the request, the
 * response parser and its constant-time verification.  Empty in a build
 * that only serves (SIOT_SERVER_ONLY). */
#include "siot_internal.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#if !SIOT_SERVER_ONLY
/* ---- client -------------------------------------------------------------- */

static void response_prefix(struct siot_mac *m, const struct siot_exchange *ex,
			    const struct siot_key *key, const uint8_t header[3],
			    const uint8_t *sealed, size_t sealed_len)
{
	siot_mac_start(m, key);
	siot_response_prefix_state(m->hash, &m->st, ex, header, sealed, sealed_len);
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
		return siot_id_char(b) ? SIOT_REASON_NONE : SIOT_REASON_DEVICE_ID;
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
	if (siot_is_classic(ex)) {
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
	if (siot_is_classic(ex)) {
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

	if (siot_is_classic(ex)) {
		siot_mac_start(&m, key);
		siot_mac_update(&m, ex->hello, ex->hello_len);
	} else {
		ex->client_id_len = (uint8_t)id_len;
		memset(ex->client_id, 0, sizeof(ex->client_id));
		memcpy(ex->client_id, client_id, id_len);
		ex->client_id_valid = true;
		siot_request_prefix(&m, ex, key);
	}
	siot_mac_update(&m, command, cmd_len);
	siot_mac_final(&m, digest);
	ex->macs++;
	memcpy(ex->tag, digest, ex->tag_len);
	siot_crypto_wipe(digest, sizeof(digest));

	if (siot_is_classic(ex)) {
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
	return siot_is_classic(ex) ? siot_digest_length(ex->params.hash) : ex->params.tag_length;
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
	if (siot_is_classic(ex) && ex->stage == ST_RESP_HDR)
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
	if (siot_is_classic(ex)) {
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
		eq = siot_ct_eq_mask(digest, ex->response_tag, tlen);
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

		siot_output_key(ex, key, k_out);
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
