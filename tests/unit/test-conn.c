/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of conn.c through a fake transport: the exchange as the
 * daemon runs it (a real config, limiter, GPIO registry on the simulated
 * chip, actions and event loop), with the bytes handed to and taken from
 * a struct conn_transport that records them.  They cover the deadline, the
 * drain, a reload between HELLO and request, early bytes, a second request
 * on one connection, output the transport takes in pieces, and the single
 * free path: every connection is released exactly once (run under ASan and
 * valgrind by the CI, which also catches a double free or a leak).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "daemon.h"
#include "usec.h"
#include "check-run.h"

static char dir[] = "/tmp/siot-conn-test-XXXXXX";
static uint8_t alice_raw[32];
static struct daemon d;

/* ---- the fake transport ------------------------------------------------- */

#define FAKE_MAX_MSGS 8

struct fake {
	struct conn *c;
	uint8_t msg[FAKE_MAX_MSGS][600]; /* each protocol message sent */
	size_t msg_len[FAKE_MAX_MSGS];
	unsigned n_msgs;
	size_t pending;       /* bytes of a message taken in pieces so far */
	bool blocked;         /* take nothing: the "socket" is full */
	size_t piece;         /* take at most this much per call (0: all) */
	bool reading;
	bool drains;          /* shutdown drains (a stream) or ends (a session) */
	unsigned shutdowns;
	bool early;
	unsigned released;
};

static ssize_t fake_send(struct conn *c, const uint8_t *buf, size_t len, size_t mark)
{
	struct fake *f = conn_transport_data(c);
	size_t take = f->piece && f->piece < len ? f->piece : len;

	if (f->blocked)
		return 0;
	/* Split what is taken into protocol messages at mark. */
	for (size_t i = 0; i < take; i++) {
		ck_assert_uint_lt(f->n_msgs, FAKE_MAX_MSGS);
		f->msg[f->n_msgs][f->pending++] = buf[i];
		if (i + 1 == mark || i + 1 == len) {
			f->msg_len[f->n_msgs++] = f->pending;
			f->pending = 0;
		}
	}
	return (ssize_t)take;
}

static void fake_receive(struct conn *c, bool on)
{
	struct fake *f = conn_transport_data(c);

	f->reading = on;
}

static int fake_shutdown(struct conn *c)
{
	struct fake *f = conn_transport_data(c);

	f->shutdowns++;
	return f->drains ? 0 : -ESHUTDOWN;
}

static bool fake_early(const struct conn *c)
{
	const struct fake *f = conn_transport_data(c);

	return f->early;
}

static void fake_release(struct conn *c)
{
	struct fake *f = conn_transport_data(c);

	f->released++;
	f->c = NULL;
}

static const char *fake_name(const struct conn *c)
{
	(void)c;
	return "fake";
}

static const struct conn_transport fake_transport = {
	.wakeup = false,
	.send = fake_send,
	.receive = fake_receive,
	.shutdown = fake_shutdown,
	.early = fake_early,
	.release = fake_release,
	.name = fake_name,
};

/* ---- the daemon around it ------------------------------------------------ */

static void problem(void *userdata, const char *file, int line, const char *msg)
{
	(void)userdata;
	ck_abort_msg("%s:%d: %s", file, line, msg);
}

/* A config with alice, a sim LED and its set and get, and extra settings. */
static struct config *load(const char *device, const char *extra, bool with_alice)
{
	char path[256];
	struct config *c;
	FILE *f;

	snprintf(path, sizeof(path), "%s/siot.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"device_id = \"%s\";\n%s\n"
		"clients = ( { id = \"%s\"; key_file = \"alice.key\"; } );\n"
		"lines = ( { name = \"led\"; chip = \"sim\"; line = 3; direction = \"output\"; } );\n"
		"commands = ( { name = \"on\"; gpio = { line = \"led\"; action = \"set\"; value = 1; }; },\n"
		"             { name = \"off\"; gpio = { line = \"led\"; action = \"set\"; value = 0; }; } );\n",
		device, extra, with_alice ? "alice" : "bob");
	fclose(f);
	ck_assert_int_eq(config_load_and_resolve(path, &c, problem, NULL), 0);
	return c;
}

static void daemon_up(const char *extra)
{
	char err[256];

	memset(&d, 0, sizeof(d));
	list_init(&d.conns);
	randpool_init(&d.challenges);
	log_init(&d.log, false);
	d.cg.dir = -1;
	ck_assert_int_ge(sd_event_new(&d.event), 0);
	d.config = load("dev", extra, true);
	d.gpio = gpio_registry_new(NULL);
	ck_assert_ptr_nonnull(d.gpio);
	ck_assert_int_eq(gpio_apply(d.gpio, d.config->lines, d.config->n_lines, err, sizeof(err)), 0);
	d.limits = limiter_new();
	ck_assert_ptr_nonnull(d.limits);
	actions_init(&d.actions, d.event, d.gpio, &d.cg);
	ck_assert_int_eq(conn_deadlines_init(&d), 0);
}

static void daemon_down(void)
{
	ck_assert_uint_eq(d.n_conns, 0); /* every connection was freed */
	sd_event_source_disable_unref(d.deadlines);
	limiter_free(d.limits);
	gpio_registry_free(d.gpio);
	config_unref(d.config);
	sd_event_unref(d.event);
	randpool_wipe(&d.challenges);
}

static int led(void)
{
	struct gpio_held *h = gpio_lookup(d.gpio, &d.config->lines[0]);
	int v = -1;

	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(gpio_get(h, &v), 0);
	return v;
}

static void setup(void)
{
	char path[256], b64[64];
	FILE *f;

	ck_assert_int_ge(siot_init(), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	randombytes_buf(alice_raw, sizeof(alice_raw));
	sodium_bin2base64(b64, sizeof(b64), alice_raw, 32, sodium_base64_VARIANT_ORIGINAL);
	snprintf(path, sizeof(path), "%s/alice.key", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", b64);
	fclose(f);
	chmod(path, 0600);
}

static void teardown(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/alice.key", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/siot.conf", dir);
	unlink(path);
	rmdir(dir);
	strcpy(dir, "/tmp/siot-conn-test-XXXXXX");
}

/* A connection on the fake transport, started; f->c is NULL when it ended. */
static void open_conn(struct fake *f)
{
	struct conn_origin o = { .src = { .family = AF_INET, .addr = { 127, 0, 0, 9 } },
				 .addr = { .family = AF_INET, .addr = { 127, 0, 0, 9 } },
				 .uid = (uid_t)-1,
				 .peer = "127.0.0.9:1",
				 .source = "127.0.0.9" };

	f->c = conn_new(&d, &fake_transport, f, &o);
	ck_assert_ptr_nonnull(f->c);
	conn_finish(f->c, conn_start(f->c));
}

/* The client's side: the HELLO in message i, a request for command. */
struct peer_side {
	struct siot_exchange ex;
	struct siot_key key;
	uint8_t req[SIOT_MAX_REQUEST];
	size_t req_len;
};

static void client_request(struct peer_side *cl, const struct fake *f, unsigned i,
			   const char *command)
{
	size_t used = 0;
	int n;

	ck_assert_uint_lt(i, f->n_msgs);
	siot_exchange_init(&cl->ex, &d.config->params);
	ck_assert_int_eq(siot_client_feed_hello(&cl->ex, f->msg[i], f->msg_len[i], &used),
			 SIOT_FEED_DONE);
	ck_assert_uint_eq(used, f->msg_len[i]);
	ck_assert_int_eq(siot_key_init(&cl->key, d.config->params.hash, alice_raw, 32), 0);
	n = siot_client_request(&cl->ex, &cl->key, "alice", command, cl->req, sizeof(cl->req));
	ck_assert_int_gt(n, 0);
	cl->req_len = (size_t)n;
}

/* The response in message i, verified: its status. */
static unsigned client_status(struct peer_side *cl, const struct fake *f, unsigned i)
{
	size_t used = 0;
	uint8_t result;

	ck_assert_uint_lt(i, f->n_msgs);
	ck_assert_int_eq(siot_client_feed_response(&cl->ex, f->msg[i], f->msg_len[i], &used),
			 SIOT_FEED_DONE);
	ck_assert_uint_eq(used, f->msg_len[i]);
	ck_assert_int_eq(siot_client_verify(&cl->ex, &cl->key, &result, NULL, NULL), 0);
	siot_key_wipe(&cl->key);
	return cl->ex.status;
}

/* The whole request, as one read from the transport. */
static void deliver(struct fake *f, const struct peer_side *cl)
{
	conn_finish(f->c, conn_received(f->c, cl->req, cl->req_len));
}

/* A reload's swap of the current config. */
static void reload(struct config *next)
{
	config_unref(d.config);
	d.config = next;
}

/* Run the loop until f's connection is gone (at most 3 s); the time it took. */
static uint64_t run_until_released(struct fake *f)
{
	uint64_t start = 0, now = 0;

	sd_event_now(d.event, CLOCK_MONOTONIC, &start);
	for (int i = 0; i < 300 && !f->released; i++)
		ck_assert_int_ge(sd_event_run(d.event, 10 * 1000), 0);
	ck_assert_uint_eq(f->released, 1);
	sd_event_now(d.event, CLOCK_MONOTONIC, &now);
	return now - start;
}

/* ---- the tests ------------------------------------------------------------ */

/* HELLO, request, response, end: the action ran once, the response
 * verifies, the session ended without a drain, and was freed once. */
START_TEST(one_exchange)
{
	struct fake f = { 0 };
	struct peer_side cl;

	daemon_up("");
	open_conn(&f);
	ck_assert_uint_eq(f.n_msgs, 1); /* the HELLO */
	ck_assert(f.reading);
	client_request(&cl, &f, 0, "on");
	deliver(&f, &cl);
	ck_assert_uint_eq(f.n_msgs, 2);
	ck_assert_uint_eq(client_status(&cl, &f, 1), SIOT_STATUS_OK);
	ck_assert_int_eq(led(), 1);
	ck_assert_uint_eq(f.shutdowns, 1);
	ck_assert_uint_eq(f.released, 1);
	daemon_down();
}
END_TEST

/* A stream drains after its last response, until the peer's EOF. */
START_TEST(drain_until_eof)
{
	struct fake f = { .drains = true };
	struct peer_side cl;

	daemon_up("");
	open_conn(&f);
	client_request(&cl, &f, 0, "on");
	f.reading = false;
	deliver(&f, &cl);
	ck_assert_uint_eq(client_status(&cl, &f, 1), SIOT_STATUS_OK);
	ck_assert_uint_eq(f.shutdowns, 1);
	ck_assert_uint_eq(f.released, 0); /* draining */
	ck_assert(f.reading);
	conn_finish(f.c, conn_received(f.c, (const uint8_t *)"x", 1)); /* read and dropped */
	ck_assert_uint_eq(f.released, 0);
	conn_finish(f.c, conn_received(f.c, NULL, 0));
	ck_assert_uint_eq(f.released, 1);
	daemon_down();
}
END_TEST

/* No request before handshake_timeout: the deadline ends the connection,
 * and not before it. */
START_TEST(deadline)
{
	struct fake f = { 0 };
	uint64_t took;

	daemon_up("timeout = 1.0;\nhandshake_timeout = 0.2;");
	open_conn(&f);
	ck_assert_uint_eq(f.n_msgs, 1);
	took = run_until_released(&f);
	ck_assert_uint_ge(took, 150 * 1000);
	ck_assert_uint_eq(f.n_msgs, 1); /* nothing more was sent */
	daemon_down();
}
END_TEST

/* A half request when the deadline passes: dropped all the same. */
START_TEST(deadline_mid_request)
{
	struct fake f = { 0 };
	struct peer_side cl;

	daemon_up("timeout = 1.0;\nhandshake_timeout = 0.2;");
	open_conn(&f);
	client_request(&cl, &f, 0, "on");
	conn_finish(f.c, conn_received(f.c, cl.req, cl.req_len - 1));
	ck_assert_uint_eq(f.released, 0);
	run_until_released(&f);
	ck_assert_int_eq(led(), 0); /* never ran */
	siot_key_wipe(&cl.key);
	daemon_down();
}
END_TEST

/* A reload between HELLO and request that removes alice: the request is
 * decided under the new config and rejected at once. */
START_TEST(reload_revokes)
{
	struct fake f = { 0 };
	struct peer_side cl;
	struct config *next;

	daemon_up("");
	open_conn(&f);
	client_request(&cl, &f, 0, "on");
	next = load("dev", "", false);
	reload(next);
	ck_assert_int_eq(gpio_apply(d.gpio, next->lines, next->n_lines, (char[64]){ 0 }, 64), 0);
	deliver(&f, &cl);
	ck_assert_uint_eq(f.n_msgs, 2);
	/* Rejected: verified with the dummy key, so alice cannot verify it. */
	ck_assert_uint_eq(f.msg[1][0], SIOT_STATUS_REJECTED);
	ck_assert_int_eq(led(), 0);
	ck_assert_uint_eq(f.released, 1);
	siot_key_wipe(&cl.key);
	daemon_down();
}
END_TEST

/* A reload that changes the exchange's parameters (the device id): the
 * exchange is dropped, with no response. */
START_TEST(reload_changes_parameters)
{
	struct fake f = { 0 };
	struct peer_side cl;
	struct config *next;

	daemon_up("");
	open_conn(&f);
	client_request(&cl, &f, 0, "on");
	next = load("other", "", true);
	reload(next);
	deliver(&f, &cl);
	ck_assert_uint_eq(f.n_msgs, 1);
	ck_assert_uint_eq(f.released, 1);
	ck_assert_int_eq(led(), 0);
	siot_key_wipe(&cl.key);
	daemon_down();
}
END_TEST

/* Bytes before the first HELLO: no HELLO, the connection ends. */
START_TEST(early_bytes_before_hello)
{
	struct fake f = { .early = true };

	daemon_up("");
	open_conn(&f);
	ck_assert_uint_eq(f.n_msgs, 0);
	ck_assert_uint_eq(f.released, 1);
	daemon_down();
}
END_TEST

/* Bytes while the action ran: the response still goes out, then the
 * connection closes instead of sending the next HELLO. */
START_TEST(early_bytes_before_next_hello)
{
	struct fake f = { 0 };
	struct peer_side cl;

	daemon_up("max_requests = 2;");
	open_conn(&f);
	client_request(&cl, &f, 0, "on");
	f.early = true;
	deliver(&f, &cl);
	ck_assert_uint_eq(f.n_msgs, 2); /* the response, no HELLO after it */
	ck_assert_uint_eq(client_status(&cl, &f, 1), SIOT_STATUS_OK);
	ck_assert_uint_eq(f.released, 1);
	daemon_down();
}
END_TEST

/* Two requests on one connection: the response and the next HELLO go out
 * as two messages, and the second exchange runs on the second HELLO. */
START_TEST(second_request)
{
	struct fake f = { 0 };
	struct peer_side cl;

	daemon_up("max_requests = 2;");
	open_conn(&f);
	client_request(&cl, &f, 0, "on");
	deliver(&f, &cl);
	ck_assert_uint_eq(f.n_msgs, 3); /* HELLO, response, HELLO */
	ck_assert_uint_eq(client_status(&cl, &f, 1), SIOT_STATUS_OK);
	ck_assert_int_eq(led(), 1);
	ck_assert_uint_eq(f.released, 0);
	client_request(&cl, &f, 2, "off");
	deliver(&f, &cl);
	ck_assert_uint_eq(f.n_msgs, 4);
	ck_assert_uint_eq(client_status(&cl, &f, 3), SIOT_STATUS_OK);
	ck_assert_int_eq(led(), 0);
	ck_assert_uint_eq(f.released, 1);
	daemon_down();
}
END_TEST

/* The same request twice on one connection: the second is a new exchange's
 * request under an old challenge, and is rejected. */
START_TEST(replay_on_one_connection)
{
	struct fake f = { 0 };
	struct peer_side cl;

	daemon_up("max_requests = 2;");
	open_conn(&f);
	client_request(&cl, &f, 0, "on");
	deliver(&f, &cl);
	ck_assert_uint_eq(client_status(&cl, &f, 1), SIOT_STATUS_OK);
	/* off, then the same "on" request again. */
	ck_assert_int_eq(gpio_set(gpio_lookup(d.gpio, &d.config->lines[0]), 0), 0);
	deliver(&f, &cl);
	ck_assert_uint_eq(f.n_msgs, 4);
	ck_assert_uint_eq(f.msg[3][0], SIOT_STATUS_REJECTED);
	ck_assert_int_eq(led(), 0);
	ck_assert_uint_eq(f.released, 1);
	daemon_down();
}
END_TEST

/* Output the transport takes in pieces, and none while it is full: the
 * rest goes when it says it can take more. */
START_TEST(output_in_pieces)
{
	struct fake f = { .piece = 7 };
	struct peer_side cl;

	daemon_up("");
	f.blocked = true;
	open_conn(&f);
	ck_assert_uint_eq(f.n_msgs, 0);
	f.blocked = false;
	conn_finish(f.c, conn_writable(f.c));
	ck_assert_uint_eq(f.n_msgs, 1);
	client_request(&cl, &f, 0, "on");
	conn_finish(f.c, conn_received(f.c, cl.req, 5));
	conn_finish(f.c, conn_received(f.c, cl.req + 5, cl.req_len - 5));
	ck_assert_uint_eq(client_status(&cl, &f, 1), SIOT_STATUS_OK);
	ck_assert_uint_eq(f.released, 1);
	daemon_down();
}
END_TEST

/* A whole message shorter than a request is malformed at once. */
START_TEST(short_message)
{
	struct fake f = { 0 };
	struct peer_side cl;

	daemon_up("");
	open_conn(&f);
	client_request(&cl, &f, 0, "on");
	conn_finish(f.c, conn_feed_message(f.c, cl.req, cl.req_len - 1));
	ck_assert_uint_eq(f.released, 1);
	ck_assert_uint_eq(f.n_msgs, 1);
	siot_key_wipe(&cl.key);
	daemon_down();
}
END_TEST

/* Shutting down closes idle connections, each freed once. */
START_TEST(close_idle)
{
	struct fake f[3] = { { 0 } };

	daemon_up("");
	for (int i = 0; i < 3; i++)
		open_conn(&f[i]);
	ck_assert_uint_eq(d.n_conns, 3);
	ck_assert(conn_awaits_request(f[0].c));
	ck_assert(conn_wants_request(f[0].c));
	conn_close_idle(&d);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(f[i].released, 1);
	daemon_down();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("conn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, one_exchange);
	tcase_add_test(tc, drain_until_eof);
	tcase_add_test(tc, deadline);
	tcase_add_test(tc, deadline_mid_request);
	tcase_add_test(tc, reload_revokes);
	tcase_add_test(tc, reload_changes_parameters);
	tcase_add_test(tc, early_bytes_before_hello);
	tcase_add_test(tc, early_bytes_before_next_hello);
	tcase_add_test(tc, second_request);
	tcase_add_test(tc, replay_on_one_connection);
	tcase_add_test(tc, output_in_pieces);
	tcase_add_test(tc, short_message);
	tcase_add_test(tc, close_idle);
	suite_add_tcase(s, tc);
	return check_run(s);
}
