/* SPDX-License-Identifier: MIT */
/*
 * Inside libsiot's protocol: what siot.c (shared), siot_server.c and
 * siot_client.c use of each other.  Nothing else includes this.
 */
#ifndef SIOT_INTERNAL_H
#define SIOT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "siot.h"

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

/* Mask of all ones when a == b (tags of len bytes), else 0; constant time. */
unsigned siot_ct_eq_mask(const uint8_t *a, const uint8_t *b, size_t len);

/* Whether c may appear in an id or a command name. */
bool siot_id_char(unsigned char c);

/* The request MAC started under key, up to its command (siot_server.c). */
void siot_request_prefix(struct siot_mac *m, const struct siot_exchange *ex,
			 const struct siot_key *key);

/* The key that seals a response's output (siot_server.c). */
void siot_output_key(const struct siot_exchange *ex, const struct siot_key *key,
		     uint8_t out[SIOT_SEAL_KEY_LEN]);

/* Whether the exchange speaks classic. */
bool siot_is_classic(const struct siot_exchange *ex);

/* The response MAC's input up to its result byte, into st (server.c). */
void siot_response_prefix_state(enum siot_hash hash, struct siot_hmac_state *st,
				const struct siot_exchange *ex, const uint8_t header[3],
				const uint8_t *sealed, size_t sealed_len);

#endif
