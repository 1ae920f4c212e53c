/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of siotd's request decision (request.c) with a real config
 * (config_load + config_resolve from files in a temporary folder), a real
 * limiter and real protocol exchanges, but no socket and no event loop.
 *
 * They prove the security order: a backed-off source costs no scan MAC; an
 * unknown or invalid client id is scanned with the dummy key against every
 * command; every kind of id costs the same number of MACs (request.h), so
 * timing tells nothing about which ids exist or what they may run.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "limiter.h"
#include "request.h"
#include "usec.h"
#include "check-run.h"

#define N_COMMANDS 8

static char dir[] = "/tmp/siot-request-test-XXXXXX";
static uint8_t alice_raw[32], alice_old_raw[32], bob_raw[32], mallory_raw[32];

static void write_key(const char *name, uint8_t raw[32])
{
	char path[256], b64[64];
	FILE *f;

	randombytes_buf(raw, 32);
	sodium_bin2base64(b64, sizeof(b64), raw, 32, sodium_base64_VARIANT_ORIGINAL);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", b64);
	fclose(f);
	chmod(path, 0600);
}

static void problem(void *userdata, const char *file, int line, const char *msg)
{
	(void)userdata;
	ck_abort_msg("%s:%d: %s", file, line, msg);
}

/* alice may run every command (v1) or all but c6 and c7 (classic, whose
 * candidates may not outnumber the commands), bob only c1 and c2, and only
 * from 192.168.7.0/24, fd00:7::/32 or the Unix socket. */
static struct config *load(const char *protocol)
{
	bool classic = strcmp(protocol, "classic") == 0;
	/* "v1-rotation": alice has two keys, the new one and the old one. */
	bool rotation = strcmp(protocol, "v1-rotation") == 0;
	char path[256];
	struct config *c;
	FILE *f;

	snprintf(path, sizeof(path), "%s/siot.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "device_id = \"dev\";\nprotocol = \"%s\";\n", rotation ? "v1" : protocol);
	fprintf(f, "backoff = { failures = 2; source_failures = 3; window = 60.0; base = 10.0; "
		   "max = 60.0; };\n");
	fprintf(f, "clients = (\n  { id = \"alice\"; %s %s },\n"
		   "  { id = \"bob\"; key_file = \"bob.key\"; commands = [ \"c1\", \"c2\" ];\n"
		   "    from = [ \"192.168.7.0/24\", \"fd00:7::/32\", \"unix\" ]; }\n);\n",
		rotation ? "key_files = [ \"alice.key\", \"alice-old.key\" ];"
			 : "key_file = \"alice.key\";",
		classic ? "commands = [ \"c0\", \"c1\", \"c2\", \"c3\", \"c4\", \"c5\" ];" : "");
	fprintf(f, "commands = (\n");
	for (int i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  { name = \"c%d\"; exec = [ \"/bin/true\" ]; concurrency = 1; }%s\n", i,
			i + 1 < N_COMMANDS ? "," : "");
	fprintf(f, ");\n");
	fclose(f);
	ck_assert_int_eq(config_load_and_resolve(path, &c, problem, NULL), 0);
	return c;
}

static void setup(void)
{
	ck_assert_int_ge(siot_init(), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_key("alice", alice_raw);
	write_key("alice-old", alice_old_raw);
	write_key("bob", bob_raw);
	randombytes_buf(mallory_raw, sizeof(mallory_raw)); /* a key siotd does not have */
}

static void teardown(void)
{
	char path[256];

	for (const char *const *n = (const char *const[]){ "alice.key", "alice-old.key", "bob.key", "siot.conf",
							    NULL }; *n; n++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *n);
		unlink(path);
	}
	rmdir(dir);
	strcpy(dir, "/tmp/siot-request-test-XXXXXX");
}

/* A server exchange that has read `id`'s request for `command` under raw. */
static void exchange(const struct config *cfg, struct siot_exchange *srv, const uint8_t *raw,
		     const char *id, const char *command)
{
	struct siot_exchange cli;
	struct siot_key key;
	uint8_t req[SIOT_MAX_REQUEST];
	size_t used = 0;
	int n;

	siot_exchange_init(srv, &cfg->params);
	ck_assert_int_eq(siot_server_hello(srv, cfg->device_id, NULL), 0);
	siot_exchange_init(&cli, &cfg->params);
	ck_assert_int_eq(siot_client_feed_hello(&cli, srv->hello, srv->hello_len, &used),
			 SIOT_FEED_DONE);
	ck_assert_int_eq(siot_key_init(&key, cfg->params.hash, raw, 32), 0);
	/* An id with a space cannot be built by a client: build it with an 'x'
	 * and put the space in on the wire. */
	char *space = id ? strchr(id, ' ') : NULL;
	char valid[SIOT_MAX_ID + 1];
	snprintf(valid, sizeof(valid), "%s", id ? id : "");
	if (space)
		valid[space - id] = 'x';
	n = siot_client_request(&cli, &key, id ? valid : NULL, command, req, sizeof(req));
	ck_assert_int_gt(n, 0);
	if (space)
		req[1 + (space - id)] = ' ';
	ck_assert_int_eq(siot_server_feed(srv, req, (size_t)n, &used), SIOT_FEED_DONE);
	ck_assert_uint_eq(used, (size_t)n);
	srv->macs = 0; /* count the decision's MACs only */
	siot_key_wipe(&key);
	siot_exchange_wipe(&cli);
}

static const struct source_key src = { .family = AF_INET, .addr = { 127, 0, 0, 2 } };
/* The peer's full address, for from lists: in bob's network unless a test
 * says otherwise. */
static struct net_addr peer = { .family = AF_INET, .addr = { 192, 168, 7, 20 } };

struct decided {
	struct request_decision d;
	unsigned macs;
};

static struct decided decide(const struct config *cfg, const struct limiter *l,
			     const uint8_t *raw, const char *id, const char *command)
{
	struct siot_exchange ex;
	struct decided out;

	exchange(cfg, &ex, raw, id, command);
	request_decide(cfg, l, &src, &peer, &ex, 1000 * USEC_PER_SEC, &out.d);
	out.macs = ex.macs;
	siot_exchange_wipe(&ex);
	return out;
}

START_TEST(known_client_runs_its_command)
{
	struct config *cfg = load("v1");
	struct limiter *l = limiter_new();
	struct decided r = decide(cfg, l, alice_raw, "alice", "c5");

	ck_assert_int_eq(r.d.verdict, REQUEST_RUN);
	ck_assert_int_eq(r.d.reason, REQUEST_MATCHED);
	ck_assert_str_eq(r.d.client->id, "alice");
	ck_assert_str_eq(r.d.command->name, "c5");
	ck_assert_ptr_eq(r.d.key, r.d.client->keys[0].key);
	ck_assert_uint_eq(r.macs, N_COMMANDS); /* every command, no early exit */
	limiter_free(l);
	config_unref(cfg);
}
END_TEST

/* A source in backoff gets BUSY before any candidate is computed, even
 * with a request that would verify. */
START_TEST(backoff_comes_before_any_scan)
{
	struct config *cfg = load("v1");
	struct limiter *l = limiter_new();
	struct decided r;

	for (unsigned i = 0; i < cfg->backoff.source_failures; i++)
		limiter_note_failure(l, &src, NULL, &cfg->backoff, 1000 * USEC_PER_SEC);
	ck_assert(limiter_backing_off(l, &src, NULL, 1000 * USEC_PER_SEC));
	r = decide(cfg, l, alice_raw, "alice", "c1");
	ck_assert_int_eq(r.d.verdict, REQUEST_BUSY);
	ck_assert_int_eq(r.d.reason, REQUEST_BACKING_OFF);
	ck_assert_ptr_null(r.d.command);
	ck_assert_uint_eq(r.macs, 0);
	ck_assert_ptr_eq(r.d.key, r.d.client->keys[0].key); /* the BUSY answer verifies for alice */
	r = decide(cfg, l, mallory_raw, "mallory", "c1");
	ck_assert_int_eq(r.d.verdict, REQUEST_BUSY);
	ck_assert_uint_eq(r.macs, 0);
	ck_assert_ptr_eq(r.d.key, cfg->dummy_key);
	limiter_free(l);
	config_unref(cfg);
}
END_TEST

/* A known client backed off at one source is BUSY with no scan there; the
 * other clients of that source are not. */
START_TEST(pair_backoff_comes_before_any_scan)
{
	struct config *cfg = load("v1");
	struct limiter *l = limiter_new();
	struct decided r;

	for (unsigned i = 0; i < cfg->backoff.failures; i++)
		limiter_note_failure(l, &src, "alice", &cfg->backoff, 1000 * USEC_PER_SEC);
	r = decide(cfg, l, alice_raw, "alice", "c1");
	ck_assert_int_eq(r.d.verdict, REQUEST_BUSY);
	ck_assert_int_eq(r.d.reason, REQUEST_BACKING_OFF);
	ck_assert_uint_eq(r.macs, 0);
	r = decide(cfg, l, bob_raw, "bob", "c1");
	ck_assert_int_eq(r.d.verdict, REQUEST_RUN);
	ck_assert_uint_eq(r.macs, N_COMMANDS);
	limiter_free(l);
	config_unref(cfg);
}
END_TEST

/* Unknown ids and invalid ids are scanned with the dummy key against every
 * command, and are rejected even when their tag is right for some key. */
START_TEST(unknown_and_invalid_ids_get_the_dummy_key)
{
	struct config *cfg = load("v1");
	struct limiter *l = limiter_new();
	struct decided r = decide(cfg, l, mallory_raw, "mallory", "c1");

	ck_assert_int_eq(r.d.verdict, REQUEST_REJECT);
	ck_assert_int_eq(r.d.reason, REQUEST_UNKNOWN_CLIENT);
	ck_assert_ptr_null(r.d.client);
	ck_assert_ptr_eq(r.d.key, cfg->dummy_key);
	ck_assert_uint_eq(r.macs, N_COMMANDS);
	/* alice's key under another, unknown name: still the dummy key. */
	r = decide(cfg, l, alice_raw, "alice2", "c1");
	ck_assert_int_eq(r.d.reason, REQUEST_UNKNOWN_CLIENT);
	ck_assert_uint_eq(r.macs, N_COMMANDS);
	r = decide(cfg, l, alice_raw, "al ice", "c1");
	ck_assert_int_eq(r.d.verdict, REQUEST_REJECT);
	ck_assert_int_eq(r.d.reason, REQUEST_INVALID_ID);
	ck_assert_ptr_eq(r.d.key, cfg->dummy_key);
	ck_assert_uint_eq(r.macs, N_COMMANDS);
	limiter_free(l);
	config_unref(cfg);
}
END_TEST

/* A request by `id` for `command`, made with `key`'s key ("alice",
 * "alice-old", "bob", else mallory's), and what it must come to. */
struct mac_case {
	const char *id, *command, *key;
	enum request_verdict verdict;
	enum request_reason reason;
};

static const uint8_t *raw_of(const char *key)
{
	return !strcmp(key, "alice")	   ? alice_raw
	       : !strcmp(key, "alice-old") ? alice_old_raw
	       : !strcmp(key, "bob")	   ? bob_raw
					   : mallory_raw;
}

/* Each case's verdict and reason, and exactly `macs` MACs for every one;
 * a RUN names the fingerprint of the key that matched. */
static void check_mac_cases(const struct config *cfg, const struct mac_case *cases, size_t n,
			    unsigned macs)
{
	struct limiter *l = limiter_new();
	char fp[KEYFILE_FINGERPRINT_LEN];

	for (size_t i = 0; i < n; i++) {
		const uint8_t *raw = raw_of(cases[i].key);
		struct decided r = decide(cfg, l, raw, cases[i].id, cases[i].command);

		ck_assert_msg(r.d.verdict == cases[i].verdict && r.d.reason == cases[i].reason,
			      "%s %s %s: verdict %d reason %d", cases[i].id, cases[i].command,
			      cases[i].key, r.d.verdict, r.d.reason);
		ck_assert_msg(r.macs == macs, "%s %s %s: %u MACs, not %u", cases[i].id,
			      cases[i].command, cases[i].key, r.macs, macs);
		if (r.d.verdict == REQUEST_RUN) {
			keyfile_fingerprint(raw, 32, fp);
			ck_assert_str_eq(r.d.fingerprint, fp);
		}
	}
	limiter_free(l);
}

/* Every kind of id costs N MACs: unrestricted or restricted, matching,
 * not matching, or matching a command it may not run, unknown or invalid. */
START_TEST(equal_mac_count_for_every_kind_of_id)
{
	static const struct mac_case cases[] = {
		{ "alice", "c5", "alice", REQUEST_RUN, REQUEST_MATCHED },
		{ "alice", "nope", "alice", REQUEST_REJECT, REQUEST_NOT_MATCHED },
		{ "bob", "c2", "bob", REQUEST_RUN, REQUEST_MATCHED },
		{ "bob", "nope", "bob", REQUEST_REJECT, REQUEST_NOT_MATCHED },
		{ "bob", "c5", "bob", REQUEST_REJECT, REQUEST_NOT_ALLOWED },
		{ "mallory", "c2", "mallory", REQUEST_REJECT, REQUEST_UNKNOWN_CLIENT },
		{ "al ice", "c2", "alice", REQUEST_REJECT, REQUEST_INVALID_ID },
	};
	struct config *cfg = load("v1");

	check_mac_cases(cfg, cases, sizeof(cases) / sizeof(cases[0]), N_COMMANDS);
	config_unref(cfg);
}
END_TEST

/* With a client that has two keys (rotation), every request costs 2 x N
 * MACs: whichever key matched, or none, whatever the id.  The answer is
 * made with the key that matched, and its fingerprint is what is logged. */
START_TEST(equal_mac_count_with_rotation)
{
	static const struct mac_case cases[] = {
		{ "alice", "c5", "alice", REQUEST_RUN, REQUEST_MATCHED },
		{ "alice", "c5", "alice-old", REQUEST_RUN, REQUEST_MATCHED },
		{ "alice", "c5", "mallory", REQUEST_REJECT, REQUEST_NOT_MATCHED },
		{ "alice", "nope", "alice-old", REQUEST_REJECT, REQUEST_NOT_MATCHED },
		{ "bob", "c2", "bob", REQUEST_RUN, REQUEST_MATCHED },
		{ "bob", "c5", "bob", REQUEST_REJECT, REQUEST_NOT_ALLOWED },
		{ "bob", "c2", "alice", REQUEST_REJECT, REQUEST_NOT_MATCHED },
		{ "mallory", "c2", "mallory", REQUEST_REJECT, REQUEST_UNKNOWN_CLIENT },
		{ "al ice", "c2", "alice", REQUEST_REJECT, REQUEST_INVALID_ID },
	};
	struct config *cfg = load("v1-rotation");
	struct limiter *l = limiter_new();
	const struct client *alice = config_find_client(cfg, "alice");

	ck_assert_uint_eq(cfg->max_keys, 2);
	ck_assert_uint_eq(alice->n_keys, 2);
	check_mac_cases(cfg, cases, sizeof(cases) / sizeof(cases[0]), 2 * N_COMMANDS);
	/* The old key's answer is made with the old key, which that client has. */
	ck_assert_ptr_eq(decide(cfg, l, alice_old_raw, "alice", "c1").d.key, alice->keys[1].key);
	ck_assert_ptr_eq(decide(cfg, l, alice_raw, "alice", "c1").d.key, alice->keys[0].key);
	/* No key matched: the first (newest) key answers. */
	ck_assert_ptr_eq(decide(cfg, l, mallory_raw, "alice", "c1").d.key, alice->keys[0].key);
	ck_assert_ptr_null(decide(cfg, l, mallory_raw, "alice", "c1").d.fingerprint);
	limiter_free(l);
	config_unref(cfg);
}
END_TEST

/* A restricted client that proves a command it may not run is rejected
 * with its own key (a genuine rejection), naming the command for the log. */
START_TEST(not_allowed_is_a_genuine_rejection)
{
	struct config *cfg = load("v1");
	struct limiter *l = limiter_new();
	struct decided r = decide(cfg, l, bob_raw, "bob", "c5");

	ck_assert_int_eq(r.d.verdict, REQUEST_REJECT);
	ck_assert_int_eq(r.d.reason, REQUEST_NOT_ALLOWED);
	ck_assert_ptr_eq(r.d.key, r.d.client->keys[0].key);
	ck_assert_str_eq(r.d.command->name, "c5");
	limiter_free(l);
	config_unref(cfg);
}
END_TEST

/* A client that proves its key from where it may not connect is REJECTED
 * with its own key (so it can tell why), after the same full scan; a
 * command it may not run from there is still "not from here". */
START_TEST(not_from_its_networks)
{
	static const struct net_addr elsewhere = { .family = AF_INET, .addr = { 192, 168, 8, 1 } };
	static const struct net_addr v6_in = { .family = AF_INET6,
					       .addr = { 0xfd, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
							 9 } };
	static const struct net_addr v6_out = { .family = AF_INET6,
						.addr = { 0xfd, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0,
							  0, 0, 9 } };
	static const struct net_addr unix_peer = { .family = AF_UNIX };
	struct config *cfg = load("v1");
	struct limiter *l = limiter_new();
	struct net_addr saved = peer;
	struct decided r;

	peer = elsewhere;
	r = decide(cfg, l, bob_raw, "bob", "c1");
	ck_assert_int_eq(r.d.verdict, REQUEST_REJECT);
	ck_assert_int_eq(r.d.reason, REQUEST_NOT_FROM);
	ck_assert_ptr_eq(r.d.key, r.d.client->keys[0].key);
	ck_assert_uint_eq(r.macs, N_COMMANDS);
	r = decide(cfg, l, bob_raw, "bob", "c5");
	ck_assert_int_eq(r.d.reason, REQUEST_NOT_FROM);
	ck_assert_uint_eq(r.macs, N_COMMANDS);
	/* alice has no from list: anywhere. */
	r = decide(cfg, l, alice_raw, "alice", "c1");
	ck_assert_int_eq(r.d.verdict, REQUEST_RUN);
	ck_assert_uint_eq(r.macs, N_COMMANDS);
	/* A wrong key from elsewhere is no match, not "not from here". */
	r = decide(cfg, l, mallory_raw, "bob", "c1");
	ck_assert_int_eq(r.d.reason, REQUEST_NOT_MATCHED);
	ck_assert_uint_eq(r.macs, N_COMMANDS);
	peer = v6_out;
	ck_assert_int_eq(decide(cfg, l, bob_raw, "bob", "c1").d.reason, REQUEST_NOT_FROM);
	peer = v6_in;
	ck_assert_int_eq(decide(cfg, l, bob_raw, "bob", "c1").d.verdict, REQUEST_RUN);
	peer = unix_peer;
	ck_assert_int_eq(decide(cfg, l, bob_raw, "bob", "c2").d.verdict, REQUEST_RUN);
	peer = saved;
	ck_assert_int_eq(decide(cfg, l, bob_raw, "bob", "c1").d.verdict, REQUEST_RUN);
	limiter_free(l);
	config_unref(cfg);
}
END_TEST

START_TEST(command_at_its_concurrency_is_busy)
{
	struct config *cfg = load("v1");
	struct limiter *l = limiter_new();
	struct decided r;

	ck_assert_int_eq(limiter_command_acquire(l, "c3", 1), 0);
	r = decide(cfg, l, alice_raw, "alice", "c3");
	ck_assert_int_eq(r.d.verdict, REQUEST_BUSY);
	ck_assert_int_eq(r.d.reason, REQUEST_AT_CONCURRENCY);
	ck_assert_str_eq(r.d.command->name, "c3");
	ck_assert_uint_eq(r.macs, N_COMMANDS); /* it was verified first */
	limiter_command_release(l, "c3");
	r = decide(cfg, l, alice_raw, "alice", "c3");
	ck_assert_int_eq(r.d.verdict, REQUEST_RUN);
	limiter_free(l);
	config_unref(cfg);
}
END_TEST

/* classic: every (client, allowed command) pair is a candidate; the key
 * that matched answers; no match has no key (a silent close). */
START_TEST(classic_scans_every_pair)
{
	struct config *cfg = load("classic");
	struct limiter *l = limiter_new();
	struct decided r = decide(cfg, l, bob_raw, NULL, "c2");

	ck_assert_uint_eq(cfg->classic.n, N_COMMANDS);
	ck_assert_int_eq(r.d.verdict, REQUEST_RUN);
	ck_assert_str_eq(r.d.client->id, "bob");
	ck_assert_str_eq(r.d.command->name, "c2");
	ck_assert_uint_eq(r.macs, N_COMMANDS);
	r = decide(cfg, l, bob_raw, NULL, "c5");
	ck_assert_int_eq(r.d.verdict, REQUEST_REJECT);
	ck_assert_int_eq(r.d.reason, REQUEST_NO_MATCH);
	ck_assert_ptr_null(r.d.key);
	ck_assert_uint_eq(r.macs, N_COMMANDS);
	limiter_free(l);
	config_unref(cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("decide");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, known_client_runs_its_command);
	tcase_add_test(tc, backoff_comes_before_any_scan);
	tcase_add_test(tc, pair_backoff_comes_before_any_scan);
	tcase_add_test(tc, unknown_and_invalid_ids_get_the_dummy_key);
	tcase_add_test(tc, equal_mac_count_for_every_kind_of_id);
	tcase_add_test(tc, equal_mac_count_with_rotation);
	tcase_add_test(tc, not_allowed_is_a_genuine_rejection);
	tcase_add_test(tc, not_from_its_networks);
	tcase_add_test(tc, command_at_its_concurrency_is_busy);
	tcase_add_test(tc, classic_scans_every_pair);
	suite_add_tcase(s, tc);
	return check_run(s);
}
