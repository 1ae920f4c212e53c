/* SPDX-License-Identifier: MIT */
/*
 * A ctgrind-style constant-time check, run under valgrind memcheck (see
 * tests/ct/run.sh).  Keys, tags and output are marked undefined; libsiot,
 * built with -DSIOT_CT_CHECK, marks values defined only at its documented
 * declassification points (the match flag and index after a full scan, the
 * result after all 256 tries).  Any conditional jump or memory index on
 * secret data before those points is a memcheck error, and the run fails.
 *
 * Covered: the v1 and classic candidate scans (also one candidate at a
 * time, as a RAM-tight device runs them, and from one prefix state with
 * names one at a time), the v1 response build
 * (MAC and output sealing) and the client's 256-value search, for sha256
 * and sha512, matching and not.  With --leaky it also branches on a key
 * byte on purpose, so that run.sh can show the check catches one.
 *
 * Built once per crypto backend (libsodium, and Mbed TLS per version found).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <valgrind/memcheck.h>

#include "siot.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static const char *const commands[] = { "lamp-on", "lamp-off", "garage-open", "door" };
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Test keys from the OS, whatever the backend under test. */
static void fill_random(uint8_t *p, size_t n)
{
	if (getrandom(p, n, 0) != (ssize_t)n)
		abort();
}

static void make_key(struct siot_key *k, enum siot_hash h, uint8_t raw[32])
{
	if (siot_key_init(k, h, raw, 32) < 0)
		abort();
}

/* A HELLO from srv read by cli, cli's request for command (under the
 * public key copy) read by srv, and srv's copy of the tag made secret. */
static void to_request(const struct siot_params *p, struct siot_exchange *srv,
		       struct siot_exchange *cli, const struct siot_key *key, const char *command)
{
	uint8_t req[SIOT_MAX_REQUEST];
	size_t used;
	int n;

	siot_exchange_init(srv, p);
	siot_exchange_init(cli, p);
	if (siot_server_hello(srv, "dev", NULL) < 0 ||
	    siot_client_feed_hello(cli, srv->hello, srv->hello_len, &used) != SIOT_FEED_DONE)
		abort();
	n = siot_client_request(cli, key, "alice", command, req, sizeof(req));
	if (n < 0 || siot_server_feed(srv, req, (size_t)n, &used) != SIOT_FEED_DONE)
		abort();
	SECRET(srv->tag, srv->tag_len);
}

static void v1_round(enum siot_hash hash, const char *command, bool leaky)
{
	struct siot_params p;
	struct siot_exchange srv, cli;
	struct siot_key key, secret_key;
	uint8_t raw[32], resp[SIOT_MAX_RESPONSE];
	uint8_t output[16] = "lamp is on\n", result = 0;
	size_t used, match = 99, out_len = 0;
	int n, r;

	fill_random(raw, sizeof(raw));
	if (siot_params_init(&p, SIOT_PROFILE_V1, hash, 0, 32, 0) < 0)
		abort();
	make_key(&key, hash, raw); /* the client's copy, public for building */
	SECRET(raw, sizeof(raw));
	make_key(&secret_key, hash, raw); /* the copy under test: secret */
	to_request(&p, &srv, &cli, &key, command);

	r = siot_server_scan(&srv, &secret_key, commands, N_COMMANDS, &match);
	if (leaky && raw[0] == 0x5a) /* on purpose: a branch on a key byte */
		printf("leak\n");
	if (r == 1 && strcmp(commands[match], command) != 0)
		abort();

	SECRET(output, sizeof(output));
	result = 1;
	SECRET(&result, 1);
	n = siot_server_response(&srv, &secret_key, SIOT_STATUS_OK, result, output, 11, resp,
				 sizeof(resp));
	PUBLIC(&n, sizeof(n)); /* the length is public: it follows from the output length */
	if (n < 0)
		abort();
	PUBLIC(resp, (size_t)n); /* what goes on the wire */
	if (siot_client_feed_response(&cli, resp, (size_t)n, &used) != SIOT_FEED_DONE)
		abort();
	SECRET(cli.response_tag, sizeof(cli.response_tag));
	r = siot_client_verify(&cli, &secret_key, &result, NULL, &out_len);
	if (r != 0 || result != 1)
		abort();
	siot_key_wipe(&key);
	siot_key_wipe(&secret_key);
}

/* The one-state forms (scan_one, response_consume): a fresh secret key state
 * per candidate, as a device loads it from EEPROM; and the fast scan from
 * names one at a time (scan_prefix, scan_from). */
static void one_state_round(enum siot_profile profile, enum siot_hash hash, const char *command)
{
	struct siot_params p;
	struct siot_exchange srv, cli;
	struct siot_key key, secret_key;
	struct siot_scan scan = { 0 };
	uint8_t raw[32], resp[SIOT_MAX_RESPONSE], result = 0;
	size_t match = 99;
	int n, r;

	fill_random(raw, sizeof(raw));
	if (siot_params_init(&p, profile, hash, 0, 32, 0) < 0)
		abort();
	make_key(&key, hash, raw);
	SECRET(raw, sizeof(raw));
	to_request(&p, &srv, &cli, &key, command);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		make_key(&secret_key, hash, raw);
		siot_server_scan_one(&srv, &secret_key, commands[i], i, &scan);
	}
	r = siot_server_scan_end(&scan, &match);
	if (r == 1 && strcmp(commands[match], command) != 0)
		abort();
	/* The fast scan from names one at a time: one prefix state. */
	make_key(&secret_key, hash, raw);
	if (siot_server_scan_prefix(&srv, &secret_key, &scan) < 0)
		abort();
	for (size_t i = 0; i < N_COMMANDS; i++)
		siot_server_scan_from(&srv, &secret_key, commands[i], i, &scan);
	siot_key_wipe(&secret_key);
	if (siot_server_scan_end(&scan, &match) != r || (r == 1 && strcmp(commands[match], command)))
		abort();
	make_key(&secret_key, hash, raw);
	SECRET(&result, 1);
	if (profile == SIOT_PROFILE_CLASSIC)
		n = siot_server_response_classic_consume(&srv, &secret_key, result, resp);
	else
		n = siot_server_response_consume(&srv, &secret_key, SIOT_STATUS_OK, result, NULL, 0,
						 resp, sizeof(resp));
	PUBLIC(&n, sizeof(n));
	if (n < 0)
		abort();
	siot_key_wipe(&key);
}

static void classic_round(enum siot_hash hash, const char *command)
{
	struct siot_params p;
	struct siot_exchange srv, cli;
	struct siot_key client_key, keys[2];
	struct siot_candidate cands[2 * N_COMMANDS];
	uint8_t raw[2][32], req[SIOT_MAX_REQUEST];
	size_t used, match = 0;
	int n;

	if (siot_params_init(&p, SIOT_PROFILE_CLASSIC, hash, 0, 32, 0) < 0)
		abort();
	for (int k = 0; k < 2; k++)
		fill_random(raw[k], 32);
	make_key(&client_key, hash, raw[1]); /* the client's copy, public for building */
	for (int k = 0; k < 2; k++) {
		SECRET(raw[k], 32);
		make_key(&keys[k], hash, raw[k]);
	}
	siot_exchange_init(&srv, &p);
	siot_exchange_init(&cli, &p);
	if (siot_server_hello(&srv, NULL, NULL) < 0 ||
	    siot_client_feed_hello(&cli, srv.hello, srv.hello_len, &used) != SIOT_FEED_DONE)
		abort();
	n = siot_client_request(&cli, &client_key, NULL, command, req, sizeof(req));
	if (n < 0 || siot_server_feed(&srv, req, (size_t)n, &used) != SIOT_FEED_DONE)
		abort();
	SECRET(srv.tag, srv.tag_len);
	for (size_t i = 0; i < 2 * N_COMMANDS; i++)
		cands[i] = (struct siot_candidate){ &keys[i / N_COMMANDS], commands[i % N_COMMANDS] };
	if (siot_server_scan_classic(&srv, cands, 2 * N_COMMANDS, &match) == 1 &&
	    (match / N_COMMANDS != 1 || strcmp(commands[match % N_COMMANDS], command) != 0))
		abort();
	siot_key_wipe(&client_key);
	for (int k = 0; k < 2; k++)
		siot_key_wipe(&keys[k]);
}

int main(int argc, char **argv)
{
	bool leaky = argc > 1 && strcmp(argv[1], "--leaky") == 0;

	if (siot_init() < 0)
		return 2;
#if defined(SIOT_CRYPTO_MBEDTLS)
	{
		uint8_t seed[32];

		fill_random(seed, sizeof(seed));
		if (siot_drbg_seed(seed, sizeof(seed), NULL, 0) < 0)
			return 2;
	}
#endif
	for (int h = 0; h < 2; h++) {
		enum siot_hash hash = h ? SIOT_HASH_SHA512 : SIOT_HASH_SHA256;

		v1_round(hash, "garage-open", leaky);
		v1_round(hash, "not-a-command", false);
		classic_round(hash, "door");
		classic_round(hash, "nothing");
		one_state_round(SIOT_PROFILE_V1, hash, "door");
		one_state_round(SIOT_PROFILE_V1, hash, "nothing");
		one_state_round(SIOT_PROFILE_CLASSIC, hash, "door");
	}
	printf("ct-check (%s): %s done\n", SIOT_CRYPTO_NAME, leaky ? "leaky run" : "scans, response build and search");
	return 0;
}
