/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for libsiot (src/proto).
 *
 * Sources of expected values:
 *  - tests/siot-vectors.json: computed from PROTOCOL.md by an independent
 *    implementation (copied from the design folder, turned into vectors.h).
 *  - RFC 4231 section 4: HMAC-SHA-256/512 test cases 1..7.
 * Everything else is a property checked against our own encoder.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "siot.h"

struct v1_vector {
	const char *hash;
	unsigned tag_length;
	const char *key, *device_id, *client_id, *command, *hello, *request;
	unsigned status, result;
	const char *output, *response;
};
struct classic_vector {
	const char *hash, *key, *challenge, *command, *request;
	unsigned result;
	const char *response;
};
struct negative_vector {
	const char *why, *key, *hello, *request;
	const char *commands[8];
};
#include "vectors.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Decode hex into a fresh buffer; returns its length. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t len = 0;
	ck_assert_int_eq(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &len, NULL), 0);
	return len;
}

static enum siot_hash hash_of(const char *name)
{
	enum siot_hash h;
	ck_assert_int_eq(siot_hash_from_name(name, &h), 0);
	return h;
}

static void key_from_hex(struct siot_key *k, enum siot_hash h, const char *hex)
{
	uint8_t raw[SIOT_MAX_KEY * 2];
	size_t n = unhex(hex, raw, sizeof(raw));
	ck_assert_int_eq(siot_key_init(k, h, raw, n), 0);
}

/* Parameters a v1 vector implies: challenge length from its HELLO. */
static void v1_params(const struct v1_vector *v, struct siot_params *p)
{
	uint8_t hello[SIOT_MAX_HELLO];
	unhex(v->hello, hello, sizeof(hello));
	ck_assert_int_eq(siot_params_init(p, SIOT_PROFILE_V1, hash_of(v->hash), v->tag_length,
					  hello[7], 0),
			 0);
}

/* Feed a whole message through a feed function in chunks of `chunk`
 * bytes (0 = all at once); returns the last answer and the bytes used. */
typedef enum siot_feed (*feed_fn)(struct siot_exchange *, const uint8_t *, size_t, size_t *);
static enum siot_feed feed_chunks(feed_fn fn, struct siot_exchange *ex, const uint8_t *buf,
				  size_t len, size_t chunk, size_t *used)
{
	size_t off = 0;
	enum siot_feed r = SIOT_FEED_MORE;

	if (chunk == 0)
		chunk = len;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk, c = 0;
		r = fn(ex, buf + off, n, &c);
		off += c;
		if (r != SIOT_FEED_MORE)
			break;
		ck_assert_uint_eq(c, n);
	}
	*used = off;
	return r;
}

/* ---- vectors: v1, server side ------------------------------------------- */

START_TEST(vectors_v1_server)
{
	const struct v1_vector *v = &v1_vectors[_i];
	struct siot_params p;
	struct siot_exchange ex;
	struct siot_key key;
	uint8_t hello[SIOT_MAX_HELLO], req[SIOT_MAX_REQUEST], resp[SIOT_MAX_RESPONSE],
		out[SIOT_MAX_RESPONSE], output[SIOT_MAX_OUTPUT];
	size_t hello_len, req_len, resp_len, out_len, used, match = 99;
	/* The vector's command sits between two decoys. */
	const char *commands[] = { "decoy-a", v->command, "decoy-b" };

	v1_params(v, &p);
	key_from_hex(&key, p.hash, v->key);
	hello_len = unhex(v->hello, hello, sizeof(hello));
	req_len = unhex(v->request, req, sizeof(req));
	resp_len = unhex(v->response, resp, sizeof(resp));
	out_len = unhex(v->output, output, sizeof(output));

	siot_exchange_init(&ex, &p);
	ck_assert_int_eq(siot_server_hello(&ex, v->device_id, hello + 8), 0);
	ck_assert_uint_eq(ex.hello_len, hello_len);
	ck_assert_mem_eq(ex.hello, hello, hello_len);

	ck_assert_int_eq(feed_chunks(siot_server_feed, &ex, req, req_len, 0, &used), SIOT_FEED_DONE);
	ck_assert_uint_eq(used, req_len);
	ck_assert_str_eq(ex.client_id, v->client_id);
	ck_assert(ex.client_id_valid);

	ck_assert_int_eq(siot_server_scan(&ex, &key, commands, 3, &match), 1);
	ck_assert_uint_eq(match, 1);
	ck_assert_uint_eq(ex.macs, 3);

	ck_assert_int_eq(siot_server_response(&ex, &key, (uint8_t)v->status, (uint8_t)v->result,
					      out_len ? output : NULL, out_len, out, sizeof(out)),
			 (int)resp_len);
	ck_assert_mem_eq(out, resp, resp_len);
	siot_key_wipe(&key);
}
END_TEST

/* ---- vectors: v1, client side ------------------------------------------- */

START_TEST(vectors_v1_client)
{
	const struct v1_vector *v = &v1_vectors[_i];
	struct siot_params p;
	struct siot_exchange ex;
	struct siot_key key;
	uint8_t hello[SIOT_MAX_HELLO], req[SIOT_MAX_REQUEST], resp[SIOT_MAX_RESPONSE],
		out[SIOT_MAX_REQUEST], output[SIOT_MAX_OUTPUT], plain[SIOT_MAX_OUTPUT];
	size_t hello_len, req_len, resp_len, out_len, plain_len = 12345, used;
	uint8_t result = 0xee;

	v1_params(v, &p);
	key_from_hex(&key, p.hash, v->key);
	hello_len = unhex(v->hello, hello, sizeof(hello));
	req_len = unhex(v->request, req, sizeof(req));
	resp_len = unhex(v->response, resp, sizeof(resp));
	out_len = unhex(v->output, output, sizeof(output));

	siot_exchange_init(&ex, &p);
	ck_assert_int_eq(feed_chunks(siot_client_feed_hello, &ex, hello, hello_len, 0, &used),
			 SIOT_FEED_DONE);
	ck_assert_uint_eq(used, hello_len);
	ck_assert_str_eq(ex.device_id, v->device_id);

	ck_assert_int_eq(siot_client_request(&ex, &key, v->client_id, v->command, out, sizeof(out)),
			 (int)req_len);
	ck_assert_mem_eq(out, req, req_len);

	ck_assert_int_eq(feed_chunks(siot_client_feed_response, &ex, resp, resp_len, 0, &used),
			 SIOT_FEED_DONE);
	ck_assert_uint_eq(used, resp_len);
	ck_assert_uint_eq(ex.status, v->status);
	ck_assert_int_eq(siot_client_verify(&ex, &key, &result, plain, &plain_len), 0);
	ck_assert_uint_eq(result, v->result);
	ck_assert_uint_eq(plain_len, out_len);
	if (out_len)
		ck_assert_mem_eq(plain, output, out_len);
	siot_key_wipe(&key);
}
END_TEST

/* ---- vectors: classic, both sides --------------------------------------- */

START_TEST(vectors_classic)
{
	const struct classic_vector *v = &classic_vectors[_i];
	struct siot_params p;
	struct siot_exchange srv, cli;
	struct siot_key key, other;
	uint8_t challenge[SIOT_MAX_CHALLENGE], req[SIOT_MAX_DIGEST], resp[SIOT_MAX_DIGEST],
		out[SIOT_MAX_DIGEST];
	char command[SIOT_MAX_COMMAND + 1] = { 0 };
	size_t clen, req_len, resp_len, used, match = 99;
	uint8_t result = 0xee;
	struct siot_candidate cands[3];

	clen = unhex(v->challenge, challenge, sizeof(challenge));
	req_len = unhex(v->request, req, sizeof(req));
	resp_len = unhex(v->response, resp, sizeof(resp));
	unhex(v->command, (uint8_t *)command, SIOT_MAX_COMMAND);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_CLASSIC, hash_of(v->hash), 0,
					  (unsigned)clen, 0),
			 0);
	key_from_hex(&key, p.hash, v->key);
	key_from_hex(&other, p.hash,
		     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");

	/* Server: the challenge is the whole "hello". */
	siot_exchange_init(&srv, &p);
	ck_assert_int_eq(siot_server_hello(&srv, NULL, challenge), 0);
	ck_assert_uint_eq(srv.hello_len, clen);
	ck_assert_mem_eq(srv.hello, challenge, clen);
	ck_assert_int_eq(feed_chunks(siot_server_feed, &srv, req, req_len, 1, &used),
			 SIOT_FEED_DONE);
	ck_assert_uint_eq(used, req_len);
	/* Another client's key with the same command, then the right one. */
	cands[0] = (struct siot_candidate){ &other, command };
	cands[1] = (struct siot_candidate){ &key, "something-else" };
	cands[2] = (struct siot_candidate){ &key, command };
	ck_assert_int_eq(siot_server_scan_classic(&srv, cands, 3, &match), 1);
	ck_assert_uint_eq(match, 2);
	ck_assert_int_eq(siot_server_response_classic(&srv, &key, (uint8_t)v->result, out),
			 (int)resp_len);
	ck_assert_mem_eq(out, resp, resp_len);

	/* Client. */
	siot_exchange_init(&cli, &p);
	ck_assert_int_eq(feed_chunks(siot_client_feed_hello, &cli, challenge, clen, 0, &used),
			 SIOT_FEED_DONE);
	ck_assert_int_eq(siot_client_request(&cli, &key, NULL, command, out, sizeof(out)),
			 (int)req_len);
	ck_assert_mem_eq(out, req, req_len);
	ck_assert_int_eq(feed_chunks(siot_client_feed_response, &cli, resp, resp_len, 0, &used),
			 SIOT_FEED_DONE);
	ck_assert_int_eq(siot_client_verify(&cli, &key, &result, NULL, NULL), 0);
	ck_assert_uint_eq(result, v->result);
	/* The other key does not verify it. */
	ck_assert_int_eq(siot_client_verify(&cli, &other, &result, NULL, NULL), -EBADMSG);
}
END_TEST

/* ---- vectors: negatives ------------------------------------------------- */

START_TEST(vectors_negative)
{
	const struct negative_vector *v = &negative_vectors[_i];
	uint8_t hello[SIOT_MAX_HELLO], req[SIOT_MAX_REQUEST];
	size_t hello_len, req_len, used, n = 0, match = 99;
	struct siot_params p;
	struct siot_exchange ex;
	struct siot_key key;

	hello_len = unhex(v->hello, hello, sizeof(hello));
	req_len = unhex(v->request, req, sizeof(req));
	ck_assert_uint_eq(hello[5], SIOT_HASH_SHA256);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, hello[5], hello[6], hello[7], 0), 0);
	key_from_hex(&key, p.hash, v->key);
	while (v->commands[n])
		n++;

	siot_exchange_init(&ex, &p);
	ck_assert_int_eq(siot_server_hello(&ex, "garage", hello + 8), 0);
	ck_assert_mem_eq(ex.hello, hello, hello_len);
	ck_assert_int_eq(feed_chunks(siot_server_feed, &ex, req, req_len, 0, &used), SIOT_FEED_DONE);
	ck_assert_msg(siot_server_scan(&ex, &key, v->commands, n, &match) == 0, "%s matched",
		      v->why);
	ck_assert_uint_eq(match, 99);
	ck_assert_uint_eq(ex.macs, n); /* every candidate computed */
}
END_TEST

/* ---- RFC 4231 ----------------------------------------------------------- */

struct rfc4231_case {
	const char *key, *data, *sha256, *sha512;
	size_t trunc; /* 0: full digest */
};

static const struct rfc4231_case rfc4231[] = {
	/* 1 */ { "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
		 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
		 "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
		 "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854", 0 },
	/* 2 */ { "4a656665",
		 "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
		 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		 "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
		 "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737", 0 },
	/* 3 */ { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
		 "dddddddddddddddddddddddddddddddd",
		 "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
		 "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
		 "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb", 0 },
	/* 4 */ { "0102030405060708090a0b0c0d0e0f10111213141516171819",
		 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
		 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
		 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
		 "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
		 "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd", 0 },
	/* 5 */ { "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c",
		 "546573742057697468205472756e636174696f6e",
		 "a3b6167473100ee06e0c796c2955552b", "415fad6271580a531d4179bc891d87a6", 16 },
	/* 6 */ { NULL, /* 131 x 0xaa */
		 "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a"
		 "65204b6579202d2048617368204b6579204669727374",
		 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
		 "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
		 "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598", 0 },
	/* 7 */ { NULL, /* 131 x 0xaa */
		 "5468697320697320612074657374207573696e672061206c6172676572207468"
		 "616e20626c6f636b2d73697a65206b657920616e642061206c61726765722074"
		 "68616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565"
		 "647320746f20626520686173686564206265666f7265206265696e6720757365"
		 "642062792074686520484d414320616c676f726974686d2e",
		 "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
		 "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
		 "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58", 0 },
};

START_TEST(hmac_rfc4231)
{
	const struct rfc4231_case *c = &rfc4231[_i];
	uint8_t key[200], data[300], expect[SIOT_MAX_DIGEST], got[SIOT_MAX_DIGEST];
	size_t key_len, data_len, n;

	if (c->key) {
		key_len = unhex(c->key, key, sizeof(key));
	} else {
		key_len = 131;
		memset(key, 0xaa, key_len);
	}
	data_len = unhex(c->data, data, sizeof(data));

	n = unhex(c->sha256, expect, sizeof(expect));
	ck_assert_int_eq(siot_hmac(SIOT_HASH_SHA256, key, key_len, data, data_len, got), 0);
	ck_assert_mem_eq(got, expect, n);

	n = unhex(c->sha512, expect, sizeof(expect));
	ck_assert_int_eq(siot_hmac(SIOT_HASH_SHA512, key, key_len, data, data_len, got), 0);
	ck_assert_mem_eq(got, expect, n);
}
END_TEST

/* ---- stream parsing ----------------------------------------------------- */

/* A v1 request split at every point, and fed one byte at a time, parses to
 * the same fields. */
START_TEST(request_every_split)
{
	const struct v1_vector *v = &v1_vectors[_i];
	struct siot_params p;
	struct siot_exchange ex;
	uint8_t hello[SIOT_MAX_HELLO], req[SIOT_MAX_REQUEST + 4];
	size_t req_len, used, c1, c2;

	v1_params(v, &p);
	unhex(v->hello, hello, sizeof(hello));
	req_len = unhex(v->request, req, sizeof(req));
	/* Trailing bytes that belong to nobody must not be consumed. */
	memcpy(req + req_len, "\x01\x02\x03\x04", 4);

	for (size_t split = 0; split <= req_len; split++) {
		siot_exchange_init(&ex, &p);
		ck_assert_int_eq(siot_server_hello(&ex, v->device_id, hello + 8), 0);
		ck_assert_int_eq(siot_server_feed(&ex, req, split, &c1),
				 split == req_len ? SIOT_FEED_DONE : SIOT_FEED_MORE);
		ck_assert_uint_eq(c1, split);
		if (split < req_len) {
			ck_assert_int_eq(siot_server_feed(&ex, req + split, req_len + 4 - split, &c2),
					 SIOT_FEED_DONE);
			ck_assert_uint_eq(c1 + c2, req_len);
		}
		ck_assert_str_eq(ex.client_id, v->client_id);
		ck_assert_mem_eq(ex.tag, req + 1 + strlen(v->client_id), v->tag_length);
	}
	siot_exchange_init(&ex, &p);
	ck_assert_int_eq(siot_server_hello(&ex, v->device_id, hello + 8), 0);
	ck_assert_int_eq(feed_chunks(siot_server_feed, &ex, req, req_len + 4, 1, &used),
			 SIOT_FEED_DONE);
	ck_assert_uint_eq(used, req_len);
	ck_assert_str_eq(ex.client_id, v->client_id);
}
END_TEST

/* HELLO and RESPONSE, client side, one byte at a time and at every split. */
START_TEST(client_every_split)
{
	const struct v1_vector *v = &v1_vectors[_i];
	struct siot_params p;
	struct siot_exchange ex;
	struct siot_key key;
	uint8_t hello[SIOT_MAX_HELLO], resp[SIOT_MAX_RESPONSE], out[SIOT_MAX_REQUEST];
	size_t hello_len, resp_len, c1, c2;
	uint8_t result;

	v1_params(v, &p);
	key_from_hex(&key, p.hash, v->key);
	hello_len = unhex(v->hello, hello, sizeof(hello));
	resp_len = unhex(v->response, resp, sizeof(resp));

	for (size_t split = 0; split <= hello_len; split++) {
		siot_exchange_init(&ex, &p);
		ck_assert_int_eq(siot_client_feed_hello(&ex, hello, split, &c1),
				 split == hello_len ? SIOT_FEED_DONE : SIOT_FEED_MORE);
		if (split < hello_len)
			ck_assert_int_eq(siot_client_feed_hello(&ex, hello + split,
								hello_len - split, &c2),
					 SIOT_FEED_DONE);
		ck_assert_str_eq(ex.device_id, v->device_id);
	}
	/* The last exchange's HELLO is complete: walk the response. */
	for (size_t split = 0; split <= resp_len; split++) {
		ck_assert_int_gt(siot_client_request(&ex, &key, v->client_id, v->command, out,
						     sizeof(out)),
				 0);
		ck_assert_int_eq(siot_client_feed_response(&ex, resp, split, &c1),
				 split == resp_len ? SIOT_FEED_DONE : SIOT_FEED_MORE);
		if (split < resp_len)
			ck_assert_int_eq(siot_client_feed_response(&ex, resp + split,
								   resp_len - split, &c2),
					 SIOT_FEED_DONE);
		ck_assert_int_eq(siot_client_verify(&ex, &key, &result, NULL, NULL), 0);
		ck_assert_uint_eq(result, v->result);
		/* Re-arm: a verified response may be followed by a new HELLO. */
		ck_assert_int_eq(feed_chunks(siot_client_feed_hello, &ex, hello, hello_len, 1, &c1),
				 SIOT_FEED_DONE);
	}
}
END_TEST

START_TEST(request_id_length)
{
	static const uint8_t bad[] = { 0, 33, 255 };
	struct siot_params p;
	struct siot_exchange ex;
	size_t c;

	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 0, 32, 0), 0);
	for (size_t i = 0; i < N_ELEM(bad); i++) {
		uint8_t buf[2] = { bad[i], 'a' };
		siot_exchange_init(&ex, &p);
		ck_assert_int_eq(siot_server_hello(&ex, "dev", NULL), 0);
		ck_assert_int_eq(siot_server_feed(&ex, buf, 2, &c), SIOT_FEED_MALFORMED);
		ck_assert_int_eq(ex.reason, SIOT_REASON_ID_LENGTH);
		ck_assert_uint_eq(c, 1);
	}
	/* 32 is the most. */
	{
		uint8_t buf[1 + 32 + 32];
		memset(buf, 'a', sizeof(buf));
		buf[0] = 32;
		siot_exchange_init(&ex, &p);
		ck_assert_int_eq(siot_server_hello(&ex, "dev", NULL), 0);
		ck_assert_int_eq(siot_server_feed(&ex, buf, sizeof(buf), &c), SIOT_FEED_DONE);
		ck_assert_uint_eq(c, sizeof(buf));
		ck_assert(ex.client_id_valid);
	}
}
END_TEST

START_TEST(request_bad_id_chars)
{
	static const char *const ids[] = { "al ice", "a/b", "\xff", "a\nb", "a\0b", "émile" };
	struct siot_params p;
	struct siot_exchange ex;
	uint8_t buf[1 + 32 + 32];
	size_t c;

	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 0, 32, 0), 0);
	for (size_t i = 0; i < N_ELEM(ids); i++) {
		size_t n = i == 4 ? 3 : strlen(ids[i]);
		buf[0] = (uint8_t)n;
		memcpy(buf + 1, ids[i], n);
		memset(buf + 1 + n, 0x5a, 32);
		siot_exchange_init(&ex, &p);
		ck_assert_int_eq(siot_server_hello(&ex, "dev", NULL), 0);
		/* Read in full, then flagged: answered like an unknown client. */
		ck_assert_int_eq(siot_server_feed(&ex, buf, 1 + n + 32, &c), SIOT_FEED_DONE);
		ck_assert_uint_eq(c, 1 + n + 32);
		ck_assert_msg(!ex.client_id_valid, "id %zu accepted", i);
	}
}
END_TEST

/* Every field of a HELLO checked against the client's parameters. */
START_TEST(hello_mismatch)
{
	static const struct {
		size_t at;
		uint8_t value;
		enum siot_reason reason;
	} cases[] = {
		{ 0, 'X', SIOT_REASON_MAGIC },
		{ 3, 't', SIOT_REASON_MAGIC },
		{ 4, 2, SIOT_REASON_VERSION },
		{ 4, 0, SIOT_REASON_VERSION },
		{ 5, 2, SIOT_REASON_HASH },
		{ 5, 3, SIOT_REASON_HASH },
		{ 6, 16, SIOT_REASON_TAG_LENGTH },
		{ 7, 16, SIOT_REASON_CHALLENGE_LENGTH },
		{ 8 + 32, 0, SIOT_REASON_DEVICE_ID },
		{ 8 + 32, 33, SIOT_REASON_DEVICE_ID },
		{ 8 + 32 + 1, ' ', SIOT_REASON_DEVICE_ID },
		{ 8 + 32 + 3, '/', SIOT_REASON_DEVICE_ID },
	};
	struct siot_params p;
	struct siot_exchange srv, cli;
	size_t c;

	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 32, 32, 0), 0);
	siot_exchange_init(&srv, &p);
	ck_assert_int_eq(siot_server_hello(&srv, "abc", NULL), 0);
	for (size_t i = 0; i < N_ELEM(cases); i++) {
		uint8_t h[SIOT_MAX_HELLO];
		memcpy(h, srv.hello, srv.hello_len);
		h[cases[i].at] = cases[i].value;
		siot_exchange_init(&cli, &p);
		ck_assert_int_eq(siot_client_feed_hello(&cli, h, srv.hello_len, &c),
				 SIOT_FEED_MALFORMED);
		ck_assert_msg(cli.reason == cases[i].reason, "case %zu: reason %d", i, cli.reason);
		ck_assert_uint_eq(c, cases[i].at + 1); /* stopped at the bad byte */
	}
	/* The peer's values are kept for the error message. */
	{
		uint8_t h[SIOT_MAX_HELLO];
		memcpy(h, srv.hello, srv.hello_len);
		h[5] = SIOT_HASH_SHA512;
		siot_exchange_init(&cli, &p);
		ck_assert_int_eq(siot_client_feed_hello(&cli, h, srv.hello_len, &c),
				 SIOT_FEED_MALFORMED);
		ck_assert_uint_eq(cli.peer_hash_id, SIOT_HASH_SHA512);
	}
	/* The unmodified HELLO goes through. */
	siot_exchange_init(&cli, &p);
	ck_assert_int_eq(siot_client_feed_hello(&cli, srv.hello, srv.hello_len, &c), SIOT_FEED_DONE);
	ck_assert_str_eq(cli.device_id, "abc");
}
END_TEST

START_TEST(response_output_limit)
{
	struct siot_params p;
	struct siot_exchange ex;
	struct siot_key key;
	static const uint8_t k[32] = { 1 };
	uint8_t hello[SIOT_MAX_HELLO], req[SIOT_MAX_REQUEST];
	size_t c;

	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 0, 32, 0), 0);
	ck_assert_int_eq(siot_key_init(&key, p.hash, k, sizeof(k)), 0);
	siot_exchange_init(&ex, &p);
	ck_assert_int_eq(siot_server_hello(&ex, "d", NULL), 0);
	memcpy(hello, ex.hello, ex.hello_len);

	/* 4097 refused at once, with only the header read; 4096 accepted; a
	 * smaller limit of the caller's applies. */
	static const struct {
		const char *header;
		size_t limit;
		enum siot_feed expect;
	} cases[] = {
		{ "\x00\x10\x01", SIOT_MAX_OUTPUT, SIOT_FEED_MALFORMED },
		{ "\x00\xff\xff", SIOT_MAX_OUTPUT, SIOT_FEED_MALFORMED },
		{ "\x00\x10\x00", SIOT_MAX_OUTPUT, SIOT_FEED_MORE },
		{ "\x00\x00\x0b", 10, SIOT_FEED_MALFORMED },
		{ "\x00\x00\x0a", 10, SIOT_FEED_MORE },
		{ "\x00\x00\x01", 0, SIOT_FEED_MALFORMED },
		{ "\x00\x00\x00", 0, SIOT_FEED_MORE },
	};
	for (size_t i = 0; i < N_ELEM(cases); i++) {
		siot_exchange_init(&ex, &p);
		siot_client_set_output_limit(&ex, cases[i].limit);
		ck_assert_int_eq(siot_client_feed_hello(&ex, hello, siot_hello_length(&p, 1), &c),
				 SIOT_FEED_DONE);
		ck_assert_int_gt(siot_client_request(&ex, &key, "me", "cmd", req, sizeof(req)), 0);
		ck_assert_int_eq(siot_client_feed_response(&ex, (const uint8_t *)cases[i].header, 3,
							   &c),
				 cases[i].expect);
		if (cases[i].expect == SIOT_FEED_MALFORMED)
			ck_assert_int_eq(ex.reason, SIOT_REASON_OUTPUT_LENGTH);
	}

	/* The server refuses to build more than 4096 bytes of output. */
	{
		static uint8_t big[SIOT_MAX_OUTPUT + 1], out[SIOT_MAX_RESPONSE + 1];
		struct siot_exchange s;
		uint8_t r[] = { 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
		siot_exchange_init(&s, &p);
		ck_assert_int_eq(siot_server_hello(&s, "d", NULL), 0);
		ck_assert_int_eq(siot_server_feed(&s, r, sizeof(r), &c), SIOT_FEED_DONE);
		ck_assert_int_eq(siot_server_response(&s, &key, 0, 0, big, sizeof(big), out,
						      sizeof(out)),
				 -EINVAL);
		ck_assert_int_eq(siot_server_response(&s, &key, 0, 0, big, SIOT_MAX_OUTPUT, out,
						      sizeof(out)),
				 SIOT_MAX_RESPONSE - SIOT_MAX_DIGEST + 32);
		ck_assert_int_eq(siot_server_response(&s, &key, 0, 0, big, 10, out, 10), -ENOBUFS);
	}
}
END_TEST

/* Flip every bit of every vector's response: it must never verify. */
START_TEST(response_bit_flips)
{
	const struct v1_vector *v = &v1_vectors[_i];
	struct siot_params p;
	struct siot_exchange ex;
	struct siot_key key;
	uint8_t hello[SIOT_MAX_HELLO], resp[SIOT_MAX_RESPONSE], out[SIOT_MAX_REQUEST];
	static uint8_t plain[SIOT_MAX_OUTPUT];
	size_t hello_len, resp_len, c;
	unsigned tried = 0;

	v1_params(v, &p);
	key_from_hex(&key, p.hash, v->key);
	hello_len = unhex(v->hello, hello, sizeof(hello));
	resp_len = unhex(v->response, resp, sizeof(resp));

	for (size_t bit = 0; bit < resp_len * 8; bit++) {
		uint8_t flipped[SIOT_MAX_RESPONSE], result;
		size_t plain_len;
		enum siot_feed f;

		memcpy(flipped, resp, resp_len);
		flipped[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		siot_exchange_init(&ex, &p);
		ck_assert_int_eq(siot_client_feed_hello(&ex, hello, hello_len, &c), SIOT_FEED_DONE);
		ck_assert_int_gt(siot_client_request(&ex, &key, v->client_id, v->command, out,
						     sizeof(out)),
				 0);
		f = siot_client_feed_response(&ex, flipped, resp_len, &c);
		if (f == SIOT_FEED_DONE) {
			ck_assert_msg(siot_client_verify(&ex, &key, &result, plain, &plain_len) ==
					      -EBADMSG,
				      "bit %zu flipped still verifies", bit);
			tried++;
		}
		/* MORE or MALFORMED (a changed output_length): not accepted either. */
	}
	/* Nearly every flip reaches the MAC check. */
	ck_assert_uint_ge(tried, (resp_len - 2) * 8);
}
END_TEST

/* Same for classic responses. */
START_TEST(classic_bit_flips)
{
	const struct classic_vector *v = &classic_vectors[_i];
	struct siot_params p;
	struct siot_exchange ex;
	struct siot_key key;
	uint8_t challenge[SIOT_MAX_CHALLENGE], resp[SIOT_MAX_DIGEST], out[SIOT_MAX_DIGEST];
	char command[SIOT_MAX_COMMAND + 1] = { 0 };
	size_t clen, resp_len, c;

	clen = unhex(v->challenge, challenge, sizeof(challenge));
	resp_len = unhex(v->response, resp, sizeof(resp));
	unhex(v->command, (uint8_t *)command, SIOT_MAX_COMMAND);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_CLASSIC, hash_of(v->hash), 0,
					  (unsigned)clen, 0),
			 0);
	key_from_hex(&key, p.hash, v->key);
	for (size_t bit = 0; bit < resp_len * 8; bit++) {
		uint8_t flipped[SIOT_MAX_DIGEST], result;

		memcpy(flipped, resp, resp_len);
		flipped[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		siot_exchange_init(&ex, &p);
		ck_assert_int_eq(siot_client_feed_hello(&ex, challenge, clen, &c), SIOT_FEED_DONE);
		ck_assert_int_gt(siot_client_request(&ex, &key, NULL, command, out, sizeof(out)), 0);
		ck_assert_int_eq(siot_client_feed_response(&ex, flipped, resp_len, &c),
				 SIOT_FEED_DONE);
		ck_assert_int_eq(siot_client_verify(&ex, &key, &result, NULL, NULL), -EBADMSG);
	}
}
END_TEST

/* The scan computes every candidate wherever the match is, and finds a
 * match at the first and the last position alike. */
START_TEST(scan_no_early_exit)
{
	static const char *const cmds[] = { "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7" };
	static const uint8_t k[32] = { 7, 7, 7 };
	struct siot_params p;
	struct siot_exchange cli, srv;
	struct siot_key key;
	uint8_t req[SIOT_MAX_REQUEST];
	size_t c, match;
	int n;

	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 0, 32, 0), 0);
	ck_assert_int_eq(siot_key_init(&key, p.hash, k, sizeof(k)), 0);
	for (size_t want = 0; want <= N_ELEM(cmds); want++) {
		siot_exchange_init(&srv, &p);
		siot_exchange_init(&cli, &p);
		ck_assert_int_eq(siot_server_hello(&srv, "d", NULL), 0);
		ck_assert_int_eq(siot_client_feed_hello(&cli, srv.hello, srv.hello_len, &c),
				 SIOT_FEED_DONE);
		n = siot_client_request(&cli, &key, "me",
					want < N_ELEM(cmds) ? cmds[want] : "not-there", req,
					sizeof(req));
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(siot_server_feed(&srv, req, (size_t)n, &c), SIOT_FEED_DONE);
		match = 999;
		ck_assert_int_eq(siot_server_scan(&srv, &key, cmds, N_ELEM(cmds), &match),
				 want < N_ELEM(cmds) ? 1 : 0);
		if (want < N_ELEM(cmds))
			ck_assert_uint_eq(match, want);
		ck_assert_uint_eq(srv.macs, N_ELEM(cmds));
	}
}
END_TEST

/* Responses from a live exchange built here, every status and 256 results;
 * the client's search recovers each one and costs 256 MACs. */
START_TEST(result_search_all_values)
{
	static const uint8_t k[32] = { 9 };
	struct siot_params p;
	struct siot_exchange cli, srv;
	struct siot_key key;
	uint8_t req[SIOT_MAX_REQUEST], resp[SIOT_MAX_RESPONSE];
	size_t c;
	int n, m;

	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA512, 20, 16, 0), 0);
	ck_assert_int_eq(siot_key_init(&key, p.hash, k, sizeof(k)), 0);
	for (unsigned r = 0; r < 256; r++) {
		uint8_t result = 0;
		unsigned macs;

		siot_exchange_init(&srv, &p);
		siot_exchange_init(&cli, &p);
		ck_assert_int_eq(siot_server_hello(&srv, "dev", NULL), 0);
		ck_assert_int_eq(siot_client_feed_hello(&cli, srv.hello, srv.hello_len, &c),
				 SIOT_FEED_DONE);
		n = siot_client_request(&cli, &key, "me", "go", req, sizeof(req));
		ck_assert_int_eq(siot_server_feed(&srv, req, (size_t)n, &c), SIOT_FEED_DONE);
		m = siot_server_response(&srv, &key, (uint8_t)(r % 6), (uint8_t)r, NULL, 0, resp,
					 sizeof(resp));
		ck_assert_int_eq(m, 3 + 20);
		ck_assert_int_eq(siot_client_feed_response(&cli, resp, (size_t)m, &c),
				 SIOT_FEED_DONE);
		macs = cli.macs;
		ck_assert_int_eq(siot_client_verify(&cli, &key, &result, NULL, NULL), 0);
		ck_assert_uint_eq(result, r);
		ck_assert_uint_eq(cli.status, r % 6);
		ck_assert_uint_eq(cli.macs - macs, 256);
	}
}
END_TEST

/* A response made for one exchange does not verify in another. */
START_TEST(response_bound_to_exchange)
{
	static const uint8_t k[32] = { 3 };
	struct siot_params p;
	struct siot_exchange cli1, cli2, srv1, srv2;
	struct siot_key key;
	uint8_t req[SIOT_MAX_REQUEST], resp[SIOT_MAX_RESPONSE], result;
	size_t c;
	int n, m;

	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 0, 32, 0), 0);
	ck_assert_int_eq(siot_key_init(&key, p.hash, k, sizeof(k)), 0);
	siot_exchange_init(&srv1, &p);
	siot_exchange_init(&srv2, &p);
	siot_exchange_init(&cli1, &p);
	siot_exchange_init(&cli2, &p);
	ck_assert_int_eq(siot_server_hello(&srv1, "dev", NULL), 0);
	ck_assert_int_eq(siot_server_hello(&srv2, "dev", NULL), 0);
	ck_assert_mem_ne(srv1.hello + 8, srv2.hello + 8, 32); /* fresh challenges */
	ck_assert_int_eq(siot_client_feed_hello(&cli1, srv1.hello, srv1.hello_len, &c),
			 SIOT_FEED_DONE);
	ck_assert_int_eq(siot_client_feed_hello(&cli2, srv2.hello, srv2.hello_len, &c),
			 SIOT_FEED_DONE);
	n = siot_client_request(&cli1, &key, "me", "go", req, sizeof(req));
	ck_assert_int_eq(siot_server_feed(&srv1, req, (size_t)n, &c), SIOT_FEED_DONE);
	n = siot_client_request(&cli2, &key, "me", "go", req, sizeof(req));
	m = siot_server_response(&srv1, &key, 0, 0, NULL, 0, resp, sizeof(resp));
	ck_assert_int_eq(siot_client_feed_response(&cli2, resp, (size_t)m, &c), SIOT_FEED_DONE);
	ck_assert_int_eq(siot_client_verify(&cli2, &key, &result, NULL, NULL), -EBADMSG);
	/* And a request tag sent back as a response (reflection) is refused. */
	ck_assert_int_gt(n, 0);
	{
		uint8_t refl[3 + 32] = { 0, 0, 0 };
		memcpy(refl + 3, cli2.tag, 32);
		ck_assert_int_eq(siot_client_feed_hello(&cli2, srv2.hello, srv2.hello_len, &c),
				 SIOT_FEED_DONE);
		ck_assert_int_gt(siot_client_request(&cli2, &key, "me", "go", req, sizeof(req)), 0);
		ck_assert_int_eq(siot_client_feed_response(&cli2, refl, sizeof(refl), &c),
				 SIOT_FEED_DONE);
		ck_assert_int_eq(siot_client_verify(&cli2, &key, &result, NULL, NULL), -EBADMSG);
	}
}
END_TEST

/* ---- parameters, names, keys -------------------------------------------- */

START_TEST(params_ranges)
{
	struct siot_params p;

	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 0, 32, 0), 0);
	ck_assert_uint_eq(p.tag_length, 32);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 16, 16, 255), 0);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA512, 64, 64, 0), 0);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 15, 32, 0), -EINVAL);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 33, 32, 0), -EINVAL);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA512, 65, 32, 0), -EINVAL);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 0, 15, 0), -EINVAL);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 0, 65, 0), -EINVAL);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 0, 32, 256), -EINVAL);
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, (enum siot_hash)3, 0, 32, 0), -EINVAL);
	/* classic: always the full digest. */
	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_CLASSIC, SIOT_HASH_SHA512, 20, 32, 0), 0);
	ck_assert_uint_eq(p.tag_length, 64);
}
END_TEST

START_TEST(names_and_ids)
{
	enum siot_hash h;
	enum siot_profile pr;

	ck_assert(siot_valid_id("a", 1));
	ck_assert(siot_valid_id("A-z_0.9", 7));
	ck_assert(!siot_valid_id("", 0));
	ck_assert(siot_valid_id("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 32));
	ck_assert(!siot_valid_id("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 33));
	ck_assert(!siot_valid_command("a b", 3));
	ck_assert(siot_valid_command("garage-open", 11));
	ck_assert_int_eq(siot_hash_from_name("sha512", &h), 0);
	ck_assert_int_eq(h, SIOT_HASH_SHA512);
	ck_assert_int_eq(siot_hash_from_name("md5", &h), -EINVAL);
	ck_assert_int_eq(siot_profile_from_name("classic", &pr), 0);
	ck_assert_int_eq(pr, SIOT_PROFILE_CLASSIC);
	ck_assert_int_eq(siot_profile_from_name("v2", &pr), -EINVAL);
	ck_assert_str_eq(siot_status_name(3), "busy");
	ck_assert_str_eq(siot_status_name(6), "unknown");
	ck_assert_str_eq(siot_reason_str(SIOT_REASON_HASH), "hash mismatch");
}
END_TEST

static const struct {
	const char *name, *text;
	int rc;
	size_t len;
} key_cases[] = {
	{ "hex32", "6818f5f887529c1546935b5fc5a73953cf6cb2c6a0321da95d91550bf0357a86\n", 0, 32 },
	{ "HEX16", "6818F5F887529C1546935B5FC5A73953", 0, 16 },
	{ "hex64",
	  "6818f5f887529c1546935b5fc5a73953cf6cb2c6a0321da95d91550bf0357a86"
	  "6818f5f887529c1546935b5fc5a73953cf6cb2c6a0321da95d91550bf0357a86",
	  0, 64 },
	{ "b64-32", "aBj1+IdSnBVGk1tfxac5U89sssagMh2pXZFVC/A1eoY=\n", 0, 32 },
	{ "b64-crlf", "aBj1+IdSnBVGk1tfxac5U89sssagMh2pXZFVC/A1eoY=\r\n", 0, 32 },
	{ "b64-16", "AAAAAAAAAAAAAAAAAAAAAA==", 0, 16 },
	{ "b64-15", "AAAAAAAAAAAAAAAAAAAA", -EINVAL, 0 },
	{ "b64-nopad", "aBj1+IdSnBVGk1tfxac5U89sssagMh2pXZFVC/A1eoY", -EINVAL, 0 },
	{ "b64-urlsafe", "aBj1-IdSnBVGk1tfxac5U89sssagMh2pXZFVC_A1eoY=", -EINVAL, 0 },
	{ "odd-hex", "6818f5f887529c1546935b5fc5a73953c", -EINVAL, 0 },
	{ "two-lines", "AAAAAAAAAAAAAAAAAAAAAA==\nAAAAAAAAAAAAAAAAAAAAAA==\n", -EINVAL, 0 },
	{ "two-newlines", "AAAAAAAAAAAAAAAAAAAAAA==\n\n", -EINVAL, 0 },
	{ "space", " AAAAAAAAAAAAAAAAAAAAAA==", -EINVAL, 0 },
	{ "empty", "", -EINVAL, 0 },
	{ "too-long",
	  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	  -EINVAL, 0 },
};

START_TEST(key_decode)
{
	uint8_t out[SIOT_MAX_KEY];
	size_t len = 0;
	int rc = siot_key_decode(key_cases[_i].text, strlen(key_cases[_i].text), out, &len);

	ck_assert_msg(rc == key_cases[_i].rc, "%s: rc %d", key_cases[_i].name, rc);
	if (rc == 0)
		ck_assert_uint_eq(len, key_cases[_i].len);
}
END_TEST

START_TEST(key_decode_matches_hex)
{
	/* The base64 and hex forms of the first v1 vector's key agree. */
	uint8_t a[SIOT_MAX_KEY], b[SIOT_MAX_KEY];
	size_t la, lb;
	const char *hex = "6818f5f887529c1546935b5fc5a73953cf6cb2c6a0321da95d91550bf0357a86";
	const char *b64 = "aBj1+IdSnBVGk1tfxac5U89sssagMh2pXZFVC/A1eoY=";

	ck_assert_int_eq(siot_key_decode(hex, strlen(hex), a, &la), 0);
	ck_assert_int_eq(siot_key_decode(b64, strlen(b64), b, &lb), 0);
	ck_assert_uint_eq(la, lb);
	ck_assert_mem_eq(a, b, la);
}
END_TEST

/* Calls out of order are refused, not undefined. */
START_TEST(state_errors)
{
	static const uint8_t k[32];
	struct siot_params p;
	struct siot_exchange ex;
	struct siot_key key, k512;
	uint8_t buf[SIOT_MAX_RESPONSE], result;
	size_t c, m;
	const char *cmds[] = { "a" };

	ck_assert_int_eq(siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 0, 32, 0), 0);
	ck_assert_int_eq(siot_key_init(&key, p.hash, k, sizeof(k)), 0);
	ck_assert_int_eq(siot_key_init(&k512, SIOT_HASH_SHA512, k, sizeof(k)), 0);
	siot_exchange_init(&ex, &p);
	ck_assert_int_eq(siot_server_feed(&ex, buf, 1, &c), SIOT_FEED_MALFORMED);
	ck_assert_int_eq(ex.reason, SIOT_REASON_STATE);
	ck_assert_int_eq(siot_server_scan(&ex, &key, cmds, 1, &m), -EINVAL);
	ck_assert_int_eq(siot_client_request(&ex, &key, "me", "a", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(siot_client_verify(&ex, &key, &result, NULL, NULL), -EINVAL);
	ck_assert_int_eq(siot_server_hello(&ex, "bad id", NULL), -EINVAL);
	ck_assert_int_eq(siot_server_hello(&ex, "", NULL), -EINVAL);
	ck_assert_int_eq(siot_server_hello(&ex, "ok", NULL), 0);
	buf[0] = 1;
	buf[1] = 'x';
	ck_assert_int_eq(siot_server_feed(&ex, buf, 2 + 32, &c), SIOT_FEED_DONE);
	/* A key for the other hash is refused. */
	ck_assert_int_eq(siot_server_scan(&ex, &k512, cmds, 1, &m), -EINVAL);
	ck_assert_int_eq(siot_server_response(&ex, &k512, 0, 0, NULL, 0, buf, sizeof(buf)),
			 -EINVAL);
	/* Client: bad id and command names. */
	siot_exchange_init(&ex, &p);
	ck_assert_int_eq(siot_server_hello(&ex, "ok", NULL), 0);
	memcpy(buf, ex.hello, ex.hello_len);
	c = ex.hello_len;
	siot_exchange_init(&ex, &p);
	ck_assert_int_eq(siot_client_feed_hello(&ex, buf, c, &m), SIOT_FEED_DONE);
	ck_assert_int_eq(siot_client_request(&ex, &key, "bad id", "a", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(siot_client_request(&ex, &key, "me", "a b", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(siot_client_request(&ex, &key, "me", "a", buf, 10), -ENOBUFS);
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc;

	tc = tcase_create("vectors");
	tcase_add_loop_test(tc, vectors_v1_server, 0, N_ELEM(v1_vectors));
	tcase_add_loop_test(tc, vectors_v1_client, 0, N_ELEM(v1_vectors));
	tcase_add_loop_test(tc, vectors_classic, 0, N_ELEM(classic_vectors));
	tcase_add_loop_test(tc, vectors_negative, 0, N_ELEM(negative_vectors));
	tcase_add_loop_test(tc, hmac_rfc4231, 0, N_ELEM(rfc4231));
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, request_every_split, 0, N_ELEM(v1_vectors));
	tcase_add_loop_test(tc, client_every_split, 0, N_ELEM(v1_vectors));
	tcase_add_test(tc, request_id_length);
	tcase_add_test(tc, request_bad_id_chars);
	tcase_add_test(tc, hello_mismatch);
	tcase_add_test(tc, response_output_limit);
	tcase_add_test(tc, state_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, response_bit_flips, 0, N_ELEM(v1_vectors));
	tcase_add_loop_test(tc, classic_bit_flips, 0, N_ELEM(classic_vectors));
	tcase_add_test(tc, scan_no_early_exit);
	tcase_add_test(tc, result_search_all_values);
	tcase_add_test(tc, response_bound_to_exchange);
	suite_add_tcase(s, tc);

	tc = tcase_create("basics");
	tcase_add_test(tc, params_ranges);
	tcase_add_test(tc, names_and_ids);
	tcase_add_loop_test(tc, key_decode, 0, N_ELEM(key_cases));
	tcase_add_test(tc, key_decode_matches_hex);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (siot_init() < 0)
		return 99;
	sr = srunner_create(proto_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
