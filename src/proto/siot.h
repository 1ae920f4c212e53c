/* SPDX-License-Identifier: MIT */
/*
 * libsiot: the siot wire protocol, both profiles (v1 and classic), both sides.
 *
 * The byte format is specified in siot-protocol(7).  This library is pure:
 * it does no I/O, never logs and never allocates.  Every buffer it touches is
 * owned by the caller and every size below is a compile-time constant, so a
 * caller can keep one `struct siot_exchange` per connection and reuse it.
 *
 * Error convention: functions return 0 on success and a negative errno value
 * on a caller error (-EINVAL for an argument out of range, -ENOBUFS for a
 * buffer that is too small).  Stream parsers return one of enum siot_feed and
 * record why input was refused in `ex->reason` (enum siot_reason).
 *
 * Secrets: a `struct siot_key` holds HMAC states derived from a key; it is as
 * secret as the key itself.  Keep it in locked memory (sodium_malloc) and call
 * siot_key_wipe() when done.  Every function that builds a MAC on the stack
 * wipes it before returning.  Tags are compared in constant time only.
 *
 * Primitives: every one goes through crypto.h, implemented on libsodium (the
 * default) or on Mbed TLS (built with -DSIOT_CRYPTO_MBEDTLS, for firmware).
 * SIOT_CRYPTO_NAME says which.
 *
 * siot_init() must be called once (libsodium: it calls sodium_init()) before
 * anything that draws random bytes.  On Mbed TLS, random bytes come from a
 * DRBG the caller seeds with siot_drbg_seed() (crypto_types.h).
 */
#ifndef SIOT_H
#define SIOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto_types.h" /* the backend's HMAC state; libsodium's sodium.h by default */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits (PROTOCOL.md) ------------------------------------------------ */

#define SIOT_MAGIC "SIOT"
#define SIOT_MAGIC_LEN 4
#define SIOT_VERSION 1
#define SIOT_DEFAULT_PORT 7468

#define SIOT_SHA256_LEN 32
#define SIOT_SHA512_LEN 64
/* The largest digest this build can make: 32 when the backend leaves
 * SHA-512 out (a firmware build), which shrinks every buffer below. */
#if SIOT_CRYPTO_SHA512
#define SIOT_MAX_DIGEST 64
#else
#define SIOT_MAX_DIGEST 32
#endif
#define SIOT_MIN_TAG 16

#define SIOT_MIN_CHALLENGE 16
/* A device build may hold less (its configured length) to save RAM. */
#ifndef SIOT_MAX_CHALLENGE
#define SIOT_MAX_CHALLENGE 64
#endif
#define SIOT_DEFAULT_CHALLENGE 32
#define SIOT_MAX_WAKEUP 255

#define SIOT_MIN_KEY 16
#define SIOT_MAX_KEY 64
#define SIOT_KEYGEN_LEN 32

#define SIOT_MAX_ID 32          /* client id and device id */
#define SIOT_MAX_COMMAND 64
/* The protocol's output limit.  A device build that never returns output
 * may define it smaller (0) to drop the 4 KiB response buffer from
 * struct siot_exchange; an output it cannot hold is refused (-EINVAL). */
#ifndef SIOT_MAX_OUTPUT
#define SIOT_MAX_OUTPUT 4096
#endif
#define SIOT_SEAL_OVERHEAD 16 /* the ChaCha20-Poly1305 tag */

/* HELLO: magic, version, hash_id, tag_length, challenge_length, challenge,
 * device_id_length, device_id.  classic: the challenge alone. */
#define SIOT_HELLO_FIXED 9
#define SIOT_MAX_HELLO (SIOT_HELLO_FIXED + SIOT_MAX_CHALLENGE + SIOT_MAX_ID)
/* REQUEST: id_length, client_id, tag.  classic: the digest alone. */
#define SIOT_MAX_REQUEST (1 + SIOT_MAX_ID + SIOT_MAX_DIGEST)
/* RESPONSE: status, output_length, sealed_output, tag.  classic: digest. */
#define SIOT_RESPONSE_FIXED 3
#define SIOT_MAX_SEALED (SIOT_MAX_OUTPUT + SIOT_SEAL_OVERHEAD)
#define SIOT_MAX_RESPONSE (SIOT_RESPONSE_FIXED + SIOT_MAX_SEALED + SIOT_MAX_DIGEST)

/* A device build that only serves may define SIOT_SERVER_ONLY 1: the client
 * half (siot_client_*) and its fields in struct siot_exchange (91 bytes)
 * are left out. */
#ifndef SIOT_SERVER_ONLY
#define SIOT_SERVER_ONLY 0
#endif

/* ---- parameters ---------------------------------------------------------- */

enum siot_profile {
	SIOT_PROFILE_V1 = 0,
	SIOT_PROFILE_CLASSIC = 1,
};

/* Values are the wire's hash_id. */
enum siot_hash {
	SIOT_HASH_SHA256 = 1,
	SIOT_HASH_SHA512 = 2,
};

enum siot_status {
	SIOT_STATUS_OK = 0,
	SIOT_STATUS_FAILED = 1,
	SIOT_STATUS_REJECTED = 2,
	SIOT_STATUS_BUSY = 3,
	SIOT_STATUS_TIMEOUT = 4,
	SIOT_STATUS_ERROR = 5,
};

/* The values both sides configure identically.  In classic, tag_length is
 * always the digest length. */
struct siot_params {
	enum siot_profile profile;
	enum siot_hash hash;
	uint8_t tag_length;
	uint8_t challenge_length;
	uint8_t wakeup_length;
};

/* Fill *p after checking every value against PROTOCOL.md's ranges.
 * tag_length 0 means "the digest length".  Returns 0 or -EINVAL. */
int siot_params_init(struct siot_params *p, enum siot_profile profile, enum siot_hash hash,
		     unsigned tag_length, unsigned challenge_length, unsigned wakeup_length);

/* 32 or 64; 0 for a value outside the enum, or for sha512 in a build whose
 * backend leaves it out (SIOT_CRYPTO_SHA512 0). */
size_t siot_digest_length(enum siot_hash hash);

/* "sha256"/"sha512", "v1"/"classic", "ok"/"failed"/...; names never NULL
 * ("unknown" for a value outside the enum). */
const char *siot_hash_name(enum siot_hash hash);
const char *siot_profile_name(enum siot_profile profile);
const char *siot_status_name(unsigned status);
/* Parse a name back; return 0 or -EINVAL. */
int siot_hash_from_name(const char *name, enum siot_hash *out);
int siot_profile_from_name(const char *name, enum siot_profile *out);

/* True if s[0..len) is a valid id (client or device): 1..32 characters of
 * [A-Za-z0-9._-]. */
bool siot_valid_id(const char *s, size_t len);
/* True if s[0..len) is a valid command name: 1..64 of [A-Za-z0-9._-]. */
bool siot_valid_command(const char *s, size_t len);

/* Starts the crypto backend (libsodium: sodium_init()); returns 0, or -EIO
 * if it cannot start. */
int siot_init(void);

/* Random bytes from the backend's source (libsodium: the OS CSPRNG; Mbed
 * TLS: the seeded DRBG).  0, or -EIO when there is none. */
int siot_random(void *buf, size_t len);

/* ---- keys and MACs ------------------------------------------------------- */

/* The HMAC inner and outer states after absorbing a key.  Copying it and
 * continuing costs only the message part, so a candidate scan never rehashes
 * the key.  Secret: see the file comment. */
struct siot_key {
	enum siot_hash hash;
	struct siot_hmac_state st;
};

/* Absorb key[0..len) (any length; key files are limited to 16..64 bytes by
 * siot_key_decode).  Returns 0 or -EINVAL. */
int siot_key_init(struct siot_key *k, enum siot_hash hash, const uint8_t *key, size_t len);
void siot_key_wipe(struct siot_key *k);

/* Decode a key file's text: one line (one trailing "\n" or "\r\n" allowed),
 * hex if it is 32..128 hex digits of even length, else strict standard
 * base64 with padding.  Writes 16..64 bytes to out (SIOT_MAX_KEY of room) and
 * their count to *len.  Returns 0, -EINVAL for text that is neither or has a
 * bad length (the decoded bytes are wiped). */
int siot_key_decode(const char *text, size_t text_len, uint8_t out[SIOT_MAX_KEY], size_t *len);

/* An HMAC in progress; lives on the caller's stack, wiped by siot_mac_final. */
struct siot_mac {
	enum siot_hash hash;
	struct siot_hmac_state st;
};

void siot_mac_start(struct siot_mac *m, const struct siot_key *k);
void siot_mac_update(struct siot_mac *m, const void *data, size_t len);
/* Writes the full digest (siot_digest_length bytes) and wipes *m. */
void siot_mac_final(struct siot_mac *m, uint8_t out[SIOT_MAX_DIGEST]);
/* One-shot HMAC over data with any key length (RFC 4231 tests use it). */
int siot_hmac(enum siot_hash hash, const uint8_t *key, size_t key_len, const void *data,
	      size_t len, uint8_t out[SIOT_MAX_DIGEST]);

/* ---- an exchange --------------------------------------------------------- */

enum siot_feed {
	SIOT_FEED_MORE = 0,     /* every byte consumed, the message is not complete */
	SIOT_FEED_DONE = 1,     /* complete; *consumed says how many bytes it took */
	SIOT_FEED_MALFORMED = -1, /* refused; ex->reason says why */
};

enum siot_reason {
	SIOT_REASON_NONE = 0,
	SIOT_REASON_ID_LENGTH,          /* request id_length 0 or over 32 */
	SIOT_REASON_MAGIC,              /* HELLO does not start with "SIOT" */
	SIOT_REASON_VERSION,            /* HELLO version is not 1 */
	SIOT_REASON_HASH,               /* HELLO hash_id differs from ours */
	SIOT_REASON_TAG_LENGTH,         /* HELLO tag_length differs from ours */
	SIOT_REASON_CHALLENGE_LENGTH,   /* HELLO challenge_length differs from ours */
	SIOT_REASON_DEVICE_ID,          /* HELLO device_id empty, too long or bad characters */
	SIOT_REASON_OUTPUT_LENGTH,      /* RESPONSE output_length over the limit */
	SIOT_REASON_STATE,              /* a call out of order (a caller bug) */
};

/* A short English phrase for a reason ("wrong magic", ...); never NULL. */
const char *siot_reason_str(enum siot_reason reason);

/*
 * Everything one request/response exchange binds: the HELLO exactly as sent
 * (classic: the bare challenge), the client id and the request tag.  A server
 * keeps it from its HELLO to its response; a client from the HELLO it reads
 * to the response it verifies.  The response parser's buffers live here too,
 * which makes the struct about 4.4 KiB.
 */
struct siot_exchange {
	struct siot_params params;

	uint8_t hello[SIOT_MAX_HELLO];
	size_t hello_len;

	uint8_t client_id_len;
	char client_id[SIOT_MAX_ID + 1]; /* NUL-terminated */
	bool client_id_valid;            /* characters are [A-Za-z0-9._-] */

	uint8_t tag[SIOT_MAX_DIGEST];    /* the request tag (classic: digest) */
	size_t tag_len;

#if !SIOT_SERVER_ONLY
	/* What a HELLO said, filled as a client reads it, for error messages. */
	uint8_t peer_version, peer_hash_id, peer_tag_length, peer_challenge_length;
	uint8_t device_id_len;
	char device_id[SIOT_MAX_ID + 1];

	/* Response, as a client parses it. */
	uint8_t status;
	uint16_t output_len;
	uint8_t sealed[SIOT_MAX_SEALED];
	uint8_t response_tag[SIOT_MAX_DIGEST];
	size_t response_limit;           /* largest output_length accepted */
#endif

	/* Stream parser state. */
	size_t have;
	int stage;
	enum siot_reason reason;

	/* MAC computations since siot_exchange_init: lets tests and the daemon
	 * show that a scan computed every candidate, or that a backed-off
	 * source cost one MAC.  Not secret. */
	unsigned macs;
};

/* Start an exchange with parameters p.  Zeroes *ex, all but the 4 KiB
 * buffer for a response's sealed output, which is written before it is read. */
void siot_exchange_init(struct siot_exchange *ex, const struct siot_params *p);
/* Wipe everything the exchange holds (tags, output). */
void siot_exchange_wipe(struct siot_exchange *ex);

/* Size in bytes of this profile's HELLO for a device id of device_id_len
 * characters (classic: the challenge length). */
size_t siot_hello_length(const struct siot_params *p, size_t device_id_len);

/* ---- server side --------------------------------------------------------- */

/*
 * Build the HELLO into ex->hello (ex->hello_len bytes, to be sent as they
 * are) and reset the request parser.  challenge: challenge_length bytes, or
 * NULL to draw them from the backend's random source (libsodium: the OS
 * CSPRNG; Mbed TLS: the seeded DRBG) — only tests pass one.  device_id is
 * ignored in classic.  Returns 0, -EINVAL for an invalid device id, or -EIO
 * when there is no random source (an unseeded DRBG).
 */
int siot_server_hello(struct siot_exchange *ex, const char *device_id, const uint8_t *challenge);

/*
 * Feed request bytes as they arrive, in chunks of any size.  Returns
 * SIOT_FEED_MORE (all len bytes consumed), SIOT_FEED_DONE (*consumed bytes
 * belonged to the request; any rest is not this request's) or
 * SIOT_FEED_MALFORMED (ex->reason: SIOT_REASON_ID_LENGTH).  A client id with
 * bad characters is read in full and completes with client_id_valid false:
 * the server answers it like an unknown client.
 */
enum siot_feed siot_server_feed(struct siot_exchange *ex, const uint8_t *buf, size_t len,
				size_t *consumed);

/*
 * v1 candidate scan: compute MAC(key, "siot-v1 request" 0 HELLO lp(client_id)
 * command) for every commands[i] (NUL-terminated names) and compare each with
 * the received tag in constant time, never stopping early.  The HELLO and id
 * part is hashed once.  Returns 1 and sets *match to the index that matched,
 * or 0 when none did (*match untouched).  Returns -EINVAL before a complete
 * request.  key may be a dummy key for an unknown client; the caller then
 * ignores the result.
 */
int siot_server_scan(struct siot_exchange *ex, const struct siot_key *key,
		     const char *const *commands, size_t n, size_t *match);

/* The same scan, with *key's state as its scratch space: *key is consumed
 * (wiped) whatever the outcome.  For a device whose RAM holds two HMAC
 * states but not three; the caller loads the key again to answer. */
int siot_server_scan_consume(struct siot_exchange *ex, struct siot_key *key,
			     const char *const *commands, size_t n, size_t *match);

/*
 * The scan one candidate at a time, for a device whose RAM holds one HMAC
 * state and no more (an ATmega328P): the caller makes a fresh key state for
 * each candidate (from EEPROM, say), and siot_server_scan_one consumes it
 * (wipes it), computes that candidate's MAC (v1 or classic, by the
 * exchange's profile), compares it in constant time and folds the outcome
 * into *scan without a branch.  After all n candidates, siot_server_scan_end
 * returns 1 and *match, 0, or -EINVAL if a call was out of order; it clears
 * *scan.  Start with a zeroed struct siot_scan.  Each candidate costs the
 * key and the prefix again: RAM for time.
 */
struct siot_scan {
	unsigned found;
	size_t index;
	unsigned misuse;
};
void siot_server_scan_one(struct siot_exchange *ex, struct siot_key *key, const char *command,
			  size_t i, struct siot_scan *scan);
int siot_server_scan_end(struct siot_scan *scan, size_t *match);

/*
 * The fast scan, one candidate at a time (names from an AVR's flash, say):
 * siot_server_scan_prefix turns *key into the prefix state once (the key,
 * then the MAC's input up to the command: v1's label, HELLO and client id,
 * or classic's challenge), and siot_server_scan_from computes candidate i's
 * MAC from a copy of it, compares it in constant time and folds the outcome
 * into *scan, as siot_server_scan_one does; siot_server_scan_end ends it.
 * Two HMAC states of RAM, and two compressions a candidate where
 * scan_one's costs five.  scan_prefix returns 0, or -EINVAL (out of order,
 * or a key for another hash: *key is wiped and the scan ends in -EINVAL,
 * though every candidate is still to be called, for the same MAC count).
 * Wipe *key (siot_key_wipe) after the last candidate.
 */
int siot_server_scan_prefix(struct siot_exchange *ex, struct siot_key *key, struct siot_scan *scan);
void siot_server_scan_from(struct siot_exchange *ex, const struct siot_key *prefix,
			   const char *command, size_t i, struct siot_scan *scan);

/* A classic candidate: one client's key and one command it may run. */
struct siot_candidate {
	const struct siot_key *key;
	const char *command;
};

/* classic scan: H(key_i, challenge || command_i) for every candidate,
 * compared in constant time without an early exit. Returns as above. */
int siot_server_scan_classic(struct siot_exchange *ex, const struct siot_candidate *c, size_t n,
			     size_t *match);

/*
 * Build the v1 RESPONSE into out[0..cap): status, output_length, sealed
 * output (ChaCha20-Poly1305-IETF under K_out, zero nonce) and tag, with
 * `result` as the unsent last MAC byte.  output may be NULL when output_len
 * is 0; output_len at most SIOT_MAX_OUTPUT.  Returns the number of bytes
 * written, -EINVAL or -ENOBUFS.
 */
int siot_server_response(struct siot_exchange *ex, const struct siot_key *key, uint8_t status,
			 uint8_t result, const uint8_t *output, size_t output_len, uint8_t *out,
			 size_t cap);
/* The same, with *key's state as scratch: *key is consumed (wiped). */
int siot_server_response_consume(struct siot_exchange *ex, struct siot_key *key, uint8_t status,
				 uint8_t result, const uint8_t *output, size_t output_len,
				 uint8_t *out, size_t cap);

/* classic response H(key, challenge || u8(result)), the full digest, into
 * out (SIOT_MAX_DIGEST of room).  Returns its length or -EINVAL. */
int siot_server_response_classic(struct siot_exchange *ex, const struct siot_key *key,
				 uint8_t result, uint8_t out[SIOT_MAX_DIGEST]);
int siot_server_response_classic_consume(struct siot_exchange *ex, struct siot_key *key,
					 uint8_t result, uint8_t out[SIOT_MAX_DIGEST]);

/* ---- client side --------------------------------------------------------- */

#if !SIOT_SERVER_ONLY
/*
 * Feed HELLO bytes.  v1: each header field is checked against ex->params as
 * soon as it arrives and a mismatch is SIOT_FEED_MALFORMED with the reason
 * (magic, version, hash, tag length, challenge length, device id) and the
 * peer's value in ex->peer_*.  classic: challenge_length bytes, nothing to
 * check.  On SIOT_FEED_DONE the device id is in ex->device_id.
 */
enum siot_feed siot_client_feed_hello(struct siot_exchange *ex, const uint8_t *buf, size_t len,
				      size_t *consumed);

/*
 * Build the REQUEST for `command` as client `client_id` into out[0..cap)
 * after a complete HELLO, remember its tag, and reset the response parser.
 * classic ignores client_id and sends the full digest.  Returns the number
 * of bytes to send, -EINVAL (bad id or command, no HELLO) or -ENOBUFS.
 */
int siot_client_request(struct siot_exchange *ex, const struct siot_key *key,
			const char *client_id, const char *command, uint8_t *out, size_t cap);

/*
 * Largest output_length the response parser accepts (default and maximum
 * SIOT_MAX_OUTPUT); a larger one is malformed before any output is read.
 */
void siot_client_set_output_limit(struct siot_exchange *ex, size_t limit);

/* Feed RESPONSE bytes, as siot_server_feed.  Malformed: output_length over
 * the limit (SIOT_REASON_OUTPUT_LENGTH). */
enum siot_feed siot_client_feed_response(struct siot_exchange *ex, const uint8_t *buf, size_t len,
					 size_t *consumed);

/*
 * Verify a complete response: the 256 possible result bytes are tried, each
 * compared in constant time, all of them.  On success returns 0 with
 * *result set and, if there is output, the plaintext in output[0..*output_len)
 * (output: SIOT_MAX_OUTPUT of room, may be NULL when the caller wants none).
 * Returns -EBADMSG when no value matches or the output does not open: the
 * response is not authentic and nothing in it, status included, may be used.
 * -EINVAL when called out of order.
 */
int siot_client_verify(struct siot_exchange *ex, const struct siot_key *key, uint8_t *result,
		       uint8_t *output, size_t *output_len);
#endif /* !SIOT_SERVER_ONLY */

#ifdef __cplusplus
}
#endif

#endif
