/* SPDX-License-Identifier: MIT */
/*
 * Shared set-up of the libFuzzer targets: the protocol vectors give each
 * target a real configuration (parameters, key, ids, command), chosen by the
 * input's second byte, so the fuzzer starts from exchanges that verify.
 *
 * Input layout of every target: byte 0 = chunk size for the stream parser
 * (1..16, 0 = all at once), byte 1 = which vector, the rest = wire bytes.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

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

#define N_V1 (sizeof(v1_vectors) / sizeof(v1_vectors[0]))
#define N_CLASSIC (sizeof(classic_vectors) / sizeof(classic_vectors[0]))

struct fuzz_setup {
	struct siot_params params;
	struct siot_key key;
	uint8_t challenge[SIOT_MAX_CHALLENGE];
	const char *device_id, *client_id;
	char command[SIOT_MAX_COMMAND + 1];
};

static size_t fuzz_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t len = 0;
	if (sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &len, NULL) != 0)
		abort();
	return len;
}

/* Fill *s from vector number `which` (v1 first, then classic). */
static void fuzz_setup(struct fuzz_setup *s, unsigned which)
{
	uint8_t raw[SIOT_MAX_KEY], hello[SIOT_MAX_HELLO];
	enum siot_hash h;
	size_t n;

	if (siot_init() < 0)
		abort();
	memset(s, 0, sizeof(*s));
	which %= (unsigned)(N_V1 + N_CLASSIC);
	if (which < N_V1) {
		const struct v1_vector *v = &v1_vectors[which];
		if (siot_hash_from_name(v->hash, &h) < 0)
			abort();
		fuzz_unhex(v->hello, hello, sizeof(hello));
		if (siot_params_init(&s->params, SIOT_PROFILE_V1, h, v->tag_length, hello[7], 0) < 0)
			abort();
		memcpy(s->challenge, hello + 8, hello[7]);
		n = fuzz_unhex(v->key, raw, sizeof(raw));
		s->device_id = v->device_id;
		s->client_id = v->client_id;
		strcpy(s->command, v->command);
	} else {
		const struct classic_vector *v = &classic_vectors[which - N_V1];
		size_t clen;
		if (siot_hash_from_name(v->hash, &h) < 0)
			abort();
		clen = fuzz_unhex(v->challenge, s->challenge, sizeof(s->challenge));
		if (siot_params_init(&s->params, SIOT_PROFILE_CLASSIC, h, 0, (unsigned)clen, 0) < 0)
			abort();
		n = fuzz_unhex(v->key, raw, sizeof(raw));
		fuzz_unhex(v->command, (uint8_t *)s->command, SIOT_MAX_COMMAND);
	}
	siot_key_init(&s->key, h, raw, n);
}

/* Feed data to a stream parser in chunks; returns the final answer and
 * the bytes consumed in *used. */
typedef enum siot_feed (*fuzz_feed_fn)(struct siot_exchange *, const uint8_t *, size_t, size_t *);
static enum siot_feed fuzz_feed(fuzz_feed_fn fn, struct siot_exchange *ex, const uint8_t *data,
				size_t len, size_t chunk, size_t *used)
{
	size_t off = 0;
	enum siot_feed r = SIOT_FEED_MORE;

	if (chunk == 0)
		chunk = len ? len : 1;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk, c = 0;
		r = fn(ex, data + off, n, &c);
		if (c > n)
			abort();
		off += c;
		if (r != SIOT_FEED_MORE)
			break;
		if (c != n)
			abort();
	}
	*used = off;
	return r;
}

#endif
