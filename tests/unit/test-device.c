/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the device core (src/device), on a stand-in board: pins in
 * an array, sent bytes in a buffer, keys from a table.  The other side is
 * libsiot's own client.  The firmware suite runs the same core on emulated
 * microcontrollers with the real siot-ctl; this proves the core's rules one
 * by one: results, BUSY during a pulse, REJECTED, replays, deadlines, noise,
 * the equal MAC count, and classic.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "siot_device.h"

static const uint8_t key_alice[32] = "alice's 32-byte key for the test";
static const uint8_t key_other[32] = "somebody else's key, not alice's";

struct board {
	unsigned discards;
	char order[8]; /* "D" discard, "S" send, in order, for the last wake-up */
	bool pins[32];
	unsigned writes;
	uint8_t sent[256];
	size_t sent_len;
	unsigned closes; /* a stream's board->close */
};

static void b_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct board *b = ctx;

	if (strlen(b->order) < sizeof(b->order) - 1)
		strcat(b->order, "S");
	ck_assert_uint_le(b->sent_len + len, sizeof(b->sent));
	memcpy(b->sent + b->sent_len, buf, len);
	b->sent_len += len;
}

static void b_write(void *ctx, uint8_t pin, bool level)
{
	struct board *b = ctx;

	b->pins[pin] = level;
	b->writes++;
}

static void b_discard(void *ctx)
{
	struct board *b = ctx;

	b->discards++;
	if (strlen(b->order) < sizeof(b->order) - 1)
		strcat(b->order, "D");
}

static bool b_read(void *ctx, uint8_t pin)
{
	return ((struct board *)ctx)->pins[pin];
}

static enum siot_hash test_hash = SIOT_HASH_SHA256;
static uint32_t clock_ms; /* the board's clock: each call into the core sets it */

static uint32_t b_now(void *ctx)
{
	(void)ctx;
	return clock_ms;
}

/* Time a key load takes, to model a slow part (0: none). */
static uint32_t load_key_ms;

static int b_load_key(void *ctx, uint8_t client, struct siot_key *key)
{
	(void)ctx;
	clock_ms += load_key_ms;
	if (client == 0)
		return siot_key_init(key, test_hash, key_alice, sizeof(key_alice));
#if SIOT_DEVICE_LOW_RAM
	/* A low-RAM build needs the board's dummy key; the other build makes
	 * its own when the board has none. */
	if (client == SIOT_DEV_DUMMY_KEY)
		return siot_key_init(key, test_hash, key_other, sizeof(key_other));
#endif
	return -EIO; /* client 1's key cannot be read */
}

static uint8_t call_answer(void *ctx, uint8_t *result)
{
	(void)ctx;
	*result = 42;
	return SIOT_STATUS_FAILED;
}

static const struct siot_dev_command commands[] = {
	{ .name = "led-on", .op = SIOT_DEV_SET, .pin = 13, .value = 1 },
	{ .name = "led-off", .op = SIOT_DEV_SET, .pin = 13, .value = 0 },
	{ .name = "led-toggle", .op = SIOT_DEV_TOGGLE, .pin = 13 },
	{ .name = "led-pulse", .op = SIOT_DEV_PULSE, .pin = 13, .value = 1, .pulse_ms = 100 },
	{ .name = "led", .op = SIOT_DEV_GET, .pin = 13 },
	{ .name = "door", .op = SIOT_DEV_GET, .pin = 2, .active_low = 1 },
	{ .name = "relay-on", .op = SIOT_DEV_SET, .pin = 4, .value = 1, .active_low = 1 },
	{ .name = "report", .op = SIOT_DEV_CALL, .call = call_answer },
};
#define N_COMMANDS 8

static const struct siot_dev_client clients[] = {
	{ .id = "alice", .allowed = 0x7f }, /* all but "report" */
	{ .id = "bob", .allowed = 0xff },   /* its key cannot be read */
};

/* A low-RAM build keeps its table with the board (as an AVR keeps it in
 * flash) and the core reads it one command at a time: the test's board
 * copies from the table above, and the config holds no table. */
static unsigned command_reads;
static const struct siot_dev_command *board_table = commands;

static void b_command(void *ctx, uint8_t i, struct siot_dev_command *out, char *name)
{
	(void)ctx;
	ck_assert_uint_lt(i, N_COMMANDS);
	command_reads++;
	*out = board_table[i];
	out->name = NULL;
	strcpy(name, board_table[i].name);
}

static struct board board;
static const struct siot_dev_board board_ops = {
	.ctx = &board, .now = b_now, .send = b_send, .discard_input = b_discard,
	.pin_write = b_write, .pin_read = b_read,
	.load_key = b_load_key,
#if SIOT_DEVICE_LOW_RAM
	.command = b_command,
#endif
};
static struct siot_dev_config cfg;
static struct siot_device dev;

/* Into the core at time now. */
static void input(const uint8_t *buf, size_t len, uint32_t now)
{
	clock_ms = now;
	siot_device_input(&dev, buf, len, now);
}

static void tick(uint32_t now)
{
	clock_ms = now;
	siot_device_tick(&dev, now);
}

static void setup_profile(enum siot_profile profile, enum siot_hash hash)
{
	memset(&board, 0, sizeof(board));
	load_key_ms = 0;
	test_hash = hash;
	cfg = (struct siot_dev_config){
		.device_id = "promini",
		.commands = SIOT_DEVICE_LOW_RAM ? NULL : commands,
		.n_commands = N_COMMANDS,
		.clients = clients,
		.n_clients = profile == SIOT_PROFILE_CLASSIC ? 1 : 2,
		.timeout_ms = 1000,
		.classic_response = true,
	};
	ck_assert_int_eq(siot_params_init(&cfg.params, profile, hash, 0, 32, 4), 0);
	ck_assert_int_eq(siot_device_init(&dev, &cfg, &board_ops), 0);
}

static void setup(void)
{
	setup_profile(SIOT_PROFILE_V1, SIOT_HASH_SHA256);
}

static const uint8_t wakeup[4] = { 0, 0, 0, 0 };

/* Wake the device and read its HELLO into a client exchange. */
static void wake(struct siot_exchange *cli, uint32_t now)
{
	size_t used = 0;

	board.sent_len = 0;
	input(wakeup, sizeof(wakeup), now);
	ck_assert_uint_gt(board.sent_len, 0);
	siot_exchange_init(cli, &cfg.params);
	ck_assert_int_eq(siot_client_feed_hello(cli, board.sent, board.sent_len, &used),
			 SIOT_FEED_DONE);
	ck_assert_uint_eq(used, board.sent_len);
	board.sent_len = 0;
}

/* Make a request; returns its length in req. */
static size_t request(struct siot_exchange *cli, const uint8_t *k, const char *id,
		      const char *command, uint8_t *req)
{
	struct siot_key key;
	int n;

	ck_assert_int_eq(siot_key_init(&key, test_hash, k, 32), 0);
	n = siot_client_request(cli, &key, id, command, req, SIOT_MAX_REQUEST);
	ck_assert_int_gt(n, 0);
	siot_key_wipe(&key);
	return (size_t)n;
}

/* Verify what the device sent with key k: 0 and status/result, or
 * -EBADMSG; -ENODATA when it sent nothing. */
static int verify(struct siot_exchange *cli, const uint8_t *k, uint8_t *status, uint8_t *result)
{
	struct siot_key key;
	size_t used = 0;
	int rc;

	if (board.sent_len == 0)
		return -ENODATA;
	ck_assert_int_eq(siot_client_feed_response(cli, board.sent, board.sent_len, &used),
			 SIOT_FEED_DONE);
	ck_assert_uint_eq(used, board.sent_len);
	ck_assert_int_eq(siot_key_init(&key, test_hash, k, 32), 0);
	rc = siot_client_verify(cli, &key, result, NULL, NULL);
	siot_key_wipe(&key);
	*status = cli->status;
	board.sent_len = 0;
	return rc;
}

/* One whole exchange as alice; returns the status, result in *result. */
static uint8_t send_cmd(const char *command, uint32_t now, uint8_t *result)
{
	struct siot_exchange cli;
	uint8_t req[SIOT_MAX_REQUEST], status = 0xff;
	size_t n;

	wake(&cli, now);
	n = request(&cli, key_alice, "alice", command, req);
	input(req, n, now + 1);
	ck_assert_int_eq(verify(&cli, key_alice, &status, result), 0);
	return status;
}

START_TEST(results_are_siotds)
{
	uint8_t result = 0xff;

	ck_assert_uint_eq(send_cmd("led-on", 10, &result), SIOT_STATUS_OK);
	ck_assert_uint_eq(result, 0);
	ck_assert(board.pins[13]);
	ck_assert_uint_eq(send_cmd("led", 20, &result), SIOT_STATUS_OK);
	ck_assert_uint_eq(result, 1);
	ck_assert_uint_eq(send_cmd("led-toggle", 30, &result), SIOT_STATUS_OK);
	ck_assert(!board.pins[13]);
	ck_assert_uint_eq(send_cmd("led", 40, &result), SIOT_STATUS_OK);
	ck_assert_uint_eq(result, 0);
	/* active_low: the logical level is the electrical one inverted. */
	board.pins[2] = false;
	ck_assert_uint_eq(send_cmd("door", 50, &result), SIOT_STATUS_OK);
	ck_assert_uint_eq(result, 1);
	ck_assert_uint_eq(send_cmd("relay-on", 60, &result), SIOT_STATUS_OK);
	ck_assert(!board.pins[4]);
	ck_assert_uint_eq(dev.answered, 6);
	ck_assert_uint_eq(dev.dropped, 0);
}
END_TEST

START_TEST(pulse_answers_at_its_end_and_busy_meanwhile)
{
	struct siot_exchange cli, cli2;
	uint8_t req[SIOT_MAX_REQUEST], status, result;
	size_t n;

	wake(&cli, 1000);
	n = request(&cli, key_alice, "alice", "led-pulse", req);
	input(req, n, 1000);
	ck_assert(board.pins[13]);
	ck_assert_uint_eq(board.sent_len, 0); /* no answer before the end */
	tick(1099);
	ck_assert(board.pins[13]);
	ck_assert_uint_eq(board.sent_len, 0);
	tick(1100);
	ck_assert(!board.pins[13]);
	ck_assert_int_eq(verify(&cli, key_alice, &status, &result), 0);
	ck_assert_uint_eq(status, SIOT_STATUS_OK);
	ck_assert_uint_eq(result, 0);

	/* A second pulse; its client gives up and another asks for the same
	 * pin while it runs: BUSY, and the pulse still ends on time. */
	wake(&cli, 2000);
	n = request(&cli, key_alice, "alice", "led-pulse", req);
	input(req, n, 2000);
	wake(&cli2, 2010);
	n = request(&cli2, key_alice, "alice", "led-off", req);
	input(req, n, 2010);
	ck_assert_int_eq(verify(&cli2, key_alice, &status, &result), 0);
	ck_assert_uint_eq(status, SIOT_STATUS_BUSY);
	ck_assert(board.pins[13]);
	/* Another pin is not busy. */
	ck_assert_uint_eq(send_cmd("relay-on", 2020, &result), SIOT_STATUS_OK);
	tick(2100);
	ck_assert(!board.pins[13]);
	ck_assert_uint_eq(board.sent_len, 0); /* the first client has gone */
}
END_TEST

/* On a slow part the scan takes a while: the pulse lasts its time from when
 * it starts, and the HELLO's deadline runs from when the HELLO is out. */
START_TEST(times_run_from_the_action)
{
	struct siot_exchange cli;
	uint8_t req[SIOT_MAX_REQUEST], status, result;
	size_t n;
	uint32_t started;

	load_key_ms = 300;
	wake(&cli, 1000);
	n = request(&cli, key_alice, "alice", "led-pulse", req);
	input(req, n, 1500); /* within 1000 ms of the HELLO */
	ck_assert(board.pins[13]);
	started = clock_ms;
	ck_assert_uint_ge(started, 1800);
	tick(started + 99);
	ck_assert(board.pins[13]);
	tick(started + 100);
	ck_assert(!board.pins[13]);
	ck_assert_int_eq(verify(&cli, key_alice, &status, &result), 0);
	ck_assert_uint_eq(status, SIOT_STATUS_OK);
}
END_TEST

START_TEST(wrong_key_unknown_and_disallowed_are_rejected)
{
	struct siot_exchange cli;
	uint8_t req[SIOT_MAX_REQUEST], status, result;
	size_t n;
	unsigned writes = board.writes;

	/* alice's id with another key: REJECTED under alice's real key, which
	 * the sender cannot verify (siot-ctl: 76). */
	wake(&cli, 10);
	n = request(&cli, key_other, "alice", "led-on", req);
	input(req, n, 11);
	ck_assert_uint_eq(dev.last_macs, N_COMMANDS);
	ck_assert_int_eq(verify(&cli, key_other, &status, &result), -EBADMSG);
	ck_assert_uint_eq(board.writes, writes);

	/* An unknown id: scanned with the dummy key, the same MAC count. */
	wake(&cli, 20);
	n = request(&cli, key_alice, "mallory", "led-on", req);
	input(req, n, 21);
	ck_assert_uint_eq(dev.last_macs, N_COMMANDS);
	ck_assert_uint_gt(board.sent_len, 0);
	board.sent_len = 0;

	/* bob's key cannot be read: the same, and nothing runs. */
	wake(&cli, 30);
	n = request(&cli, key_alice, "bob", "led-on", req);
	input(req, n, 31);
	ck_assert_uint_eq(dev.last_macs, N_COMMANDS);
	board.sent_len = 0;

	/* A command alice may not run: REJECTED she can verify. */
	wake(&cli, 40);
	n = request(&cli, key_alice, "alice", "report", req);
	input(req, n, 41);
	ck_assert_uint_eq(dev.last_macs, N_COMMANDS);
	ck_assert_int_eq(verify(&cli, key_alice, &status, &result), 0);
	ck_assert_uint_eq(status, SIOT_STATUS_REJECTED);
	ck_assert_uint_eq(result, 0);
	ck_assert_uint_eq(board.writes, writes);
	ck_assert(!board.pins[13]);
}
END_TEST

START_TEST(replay_does_not_run)
{
	struct siot_exchange cli, cli2;
	uint8_t req[SIOT_MAX_REQUEST];
	size_t n;

	wake(&cli, 10);
	n = request(&cli, key_alice, "alice", "led-toggle", req);
	input(req, n, 11);
	ck_assert(board.pins[13]);
	board.sent_len = 0;
	/* The captured request, after a new wake-up: a new challenge. */
	wake(&cli2, 20);
	ck_assert_int_ne(memcmp(cli.hello + 8, cli2.hello + 8, 32), 0);
	input(req, n, 21);
	ck_assert_uint_eq(dev.last_macs, N_COMMANDS);
	ck_assert_uint_gt(board.sent_len, 0);
	ck_assert_uint_eq(board.sent[0], SIOT_STATUS_REJECTED); /* its status byte */
	ck_assert(board.pins[13]);
	board.sent_len = 0;
	/* The same request without a wake-up: nobody listens. */
	input(req, n, 30);
	ck_assert_uint_eq(board.sent_len, 0);
	ck_assert(board.pins[13]);
}
END_TEST

START_TEST(deadline_noise_and_resent_wakeups)
{
	struct siot_exchange cli;
	uint8_t req[SIOT_MAX_REQUEST], result;
	static const uint8_t noise[] = { 0x55, 0x00, 0x00, 0xff, 0x00, 0x13, 0x00, 0x00, 0x00 };
	size_t n;

	/* Too late: the HELLO's deadline passed, the request is dropped. */
	wake(&cli, 100);
	n = request(&cli, key_alice, "alice", "led-on", req);
	input(req, n, 1100);
	ck_assert(!board.pins[13]);
	ck_assert_uint_eq(board.sent_len, 0);
	ck_assert_uint_eq(dev.dropped, 1);

	/* Noise with runs of zeros shorter than the wake-up wakes nothing. */
	input(noise, sizeof(noise), 2000);
	ck_assert_uint_eq(board.sent_len, 0);

	/* Wake-ups resent after the HELLO are skipped. */
	wake(&cli, 3000);
	input(wakeup, sizeof(wakeup), 3001);
	input(wakeup, 2, 3002);
	ck_assert_uint_eq(board.sent_len, 0);
	n = request(&cli, key_alice, "alice", "led-on", req);
	input(req, n, 3003);
	ck_assert_int_eq(verify(&cli, key_alice, &(uint8_t){ 0 }, &result), 0);
	ck_assert(board.pins[13]);

	/* A malformed request (id_length 40) is dropped; the next works. */
	{
		struct siot_exchange c2;
		static const uint8_t bad[] = { 40, 'x' };

		wake(&c2, 4000);
		input(bad, sizeof(bad), 4001);
		ck_assert_uint_eq(board.sent_len, 0);
		ck_assert_uint_eq(dev.dropped, 2);
	}
	ck_assert_uint_eq(send_cmd("led-off", 5000, &result), SIOT_STATUS_OK);
}
END_TEST

START_TEST(call_and_classic)
{
	struct siot_exchange cli;
	uint8_t req[SIOT_MAX_REQUEST], status, result;
	size_t n;

	setup_profile(SIOT_PROFILE_CLASSIC, SIOT_HASH_SHA256);
	wake(&cli, 10);
	ck_assert_uint_eq(cli.hello_len, 32); /* the challenge alone */
	n = request(&cli, key_alice, NULL, "led-on", req);
	ck_assert_uint_eq(n, 32);
	input(req, n, 11);
	ck_assert(board.pins[13]);
	ck_assert_int_eq(verify(&cli, key_alice, &status, &result), 0);
	ck_assert_uint_eq(result, 0);
	ck_assert_uint_eq(dev.last_macs, N_COMMANDS);
	/* A classic request may start with 0x00, so nothing is skipped: the
	 * rest of a wake-up (a resent one, zeros beyond its length) must not
	 * become the request's start.  What came with the wake-up is dropped
	 * and the board is told to drop what it holds. */
	{
		static const uint8_t long_wakeup[7] = { 0 };
		unsigned discards = board.discards;
		size_t used = 0;

		board.sent_len = 0;
		board.order[0] = '\0';
		input(long_wakeup, sizeof(long_wakeup), 15);
		ck_assert_uint_eq(board.discards, discards + 1);
		/* Dropped before the HELLO leaves: a request may arrive while
		 * it is being sent (QEMU showed it), and must be kept. */
		ck_assert_str_eq(board.order, "DS");
		siot_exchange_init(&cli, &cfg.params);
		ck_assert_int_eq(siot_client_feed_hello(&cli, board.sent, board.sent_len, &used),
				 SIOT_FEED_DONE);
		board.sent_len = 0;
		n = request(&cli, key_alice, NULL, "led-off", req);
		input(req, n, 16);
		ck_assert(!board.pins[13]);
		ck_assert_int_eq(verify(&cli, key_alice, &status, &result), 0);
	}
	/* Not allowed (report): no answer in classic, nothing runs. */
	wake(&cli, 20);
	n = request(&cli, key_alice, NULL, "report", req);
	input(req, n, 21);
	ck_assert_uint_eq(board.sent_len, 0);
}
END_TEST

START_TEST(bad_configs_are_refused)
{
	struct siot_dev_config c;
	struct siot_dev_command bad_cmd[1] = { { .name = "x", .op = SIOT_DEV_SET } };

	setup();
	c = cfg;
	c.params.wakeup_length = 0;
	ck_assert_int_eq(siot_device_init(&dev, &c, &board_ops), -EINVAL);
	c = cfg;
	c.device_id = "bad id";
	ck_assert_int_eq(siot_device_init(&dev, &c, &board_ops), -EINVAL);
	c = cfg;
	c.n_commands = 0;
	ck_assert_int_eq(siot_device_init(&dev, &c, &board_ops), -EINVAL);
	/* classic refuses one-character names and more than one client. */
	ck_assert_int_eq(siot_params_init(&c.params, SIOT_PROFILE_CLASSIC, SIOT_HASH_SHA256, 0, 32,
					  1), 0);
	c.commands = SIOT_DEVICE_LOW_RAM ? NULL : bad_cmd;
	board_table = bad_cmd;
	c.n_commands = 1;
	c.n_clients = 1;
	ck_assert_int_eq(siot_device_init(&dev, &c, &board_ops), -EINVAL);
	board_table = commands;
	c.commands = SIOT_DEVICE_LOW_RAM ? NULL : commands;
	c.n_commands = N_COMMANDS;
	c.n_clients = 2;
	ck_assert_int_eq(siot_device_init(&dev, &c, &board_ops), -EINVAL);
	c.n_clients = 1;
	ck_assert_int_eq(siot_device_init(&dev, &c, &board_ops), 0);
#if SIOT_DEVICE_LOW_RAM
	/* Every command came through the board: init checks each. */
	ck_assert_uint_ge(command_reads, N_COMMANDS);
#else
	/* A board-kept table (an AVR's flash) serves the fast scan too: its
	 * names one at a time, every one read for a request. */
	{
		struct siot_dev_board b = board_ops;
		struct siot_dev_config fc = cfg;
		uint8_t result = 0xff;

		b.command = b_command;
		fc.commands = NULL;
		ck_assert_int_eq(siot_device_init(&dev, &fc, &b), 0);
		command_reads = 0;
		ck_assert_uint_eq(send_cmd("led-toggle", 10, &result), SIOT_STATUS_OK);
		ck_assert_uint_ge(command_reads, N_COMMANDS);
		ck_assert_uint_eq(dev.last_macs, N_COMMANDS);
		ck_assert(board.pins[13]);
	}
	/* Neither a table nor a board's: refused. */
	c.commands = NULL;
	ck_assert_int_eq(siot_device_init(&dev, &c, &board_ops), -EINVAL);
#endif
}
END_TEST

/* Ids kept by the board (an AVR's EEPROM): the HELLO carries the board's
 * device id, a request finds its client by the board's copy of the ids,
 * and a bad id from the board is refused at start-up as one in RAM is. */
static const char *board_ids[3];
static unsigned id_reads;

static void b_id(void *ctx, uint8_t which, char *buf)
{
	const char *id = which == SIOT_DEV_DEVICE_ID ? board_ids[2] : which < 2 ? board_ids[which] : "";

	(void)ctx;
	id_reads++;
	strcpy(buf, id);
}

START_TEST(ids_from_the_board)
{
	struct siot_dev_board b = board_ops;
	struct siot_dev_config c = cfg;
	struct siot_exchange cli;
	uint8_t req[SIOT_MAX_REQUEST], status = 0xff, result = 0xff;
	size_t n;

	b.id = b_id;
	c.device_id = NULL; /* not read */
	c.clients = (const struct siot_dev_client[]){ { .id = NULL, .allowed = 0xff },
						      { .id = NULL, .allowed = 0xff } };
	board_ids[0] = "alice";
	board_ids[1] = "bob";
	board_ids[2] = "eeprom-dev";
	ck_assert_int_eq(siot_device_init(&dev, &c, &b), 0);
	wake(&cli, 10);
	ck_assert_str_eq(cli.device_id, "eeprom-dev");
	id_reads = 0;
	n = request(&cli, key_alice, "alice", "led-on", req);
	input(req, n, 11);
	ck_assert_int_eq(verify(&cli, key_alice, &status, &result), 0);
	ck_assert_uint_eq(status, SIOT_STATUS_OK);
	ck_assert(board.pins[13]);
	ck_assert_uint_ge(id_reads, 1); /* alice's, from the board */
	/* An id the board cannot vouch for: refused, as cfg's would be. */
	board_ids[2] = "bad id";
	ck_assert_int_eq(siot_device_init(&dev, &c, &b), -EINVAL);
	board_ids[2] = "eeprom-dev";
	board_ids[1] = "";
	ck_assert_int_eq(siot_device_init(&dev, &c, &b), -EINVAL);
}
END_TEST

/* ---- a stream (TCP rules) ------------------------------------------------ */

static void b_close(void *ctx)
{
	((struct board *)ctx)->closes++;
}

static struct siot_dev_board stream_ops;

/* The device on a stream with wake-up length w. */
static void setup_stream(uint8_t w)
{
	setup();
	stream_ops = board_ops;
	stream_ops.close = b_close;
	cfg.stream = true;
	cfg.params.wakeup_length = w;
	ck_assert_int_eq(siot_device_init(&dev, &cfg, &stream_ops), 0);
}

/* Read the HELLO the device sent into a client exchange. */
static void read_hello(struct siot_exchange *cli)
{
	size_t used = 0;

	siot_exchange_init(cli, &cfg.params);
	ck_assert_int_eq(siot_client_feed_hello(cli, board.sent, board.sent_len, &used),
			 SIOT_FEED_DONE);
	board.sent_len = 0;
}

/* One whole exchange on a new connection at time now (wake-up length 0 or
 * 1), a request under key k in alice's name, verified with alice's key:
 * verify()'s result, the status in *status.  send_cmd's twin. */
static int stream_send(const uint8_t *k, const char *command, uint32_t now, uint8_t *status)
{
	static const uint8_t wake[1] = { 0 };
	struct siot_exchange cli;
	uint8_t req[SIOT_MAX_REQUEST], result;
	size_t n;

	ck_assert_uint_le(cfg.params.wakeup_length, 1);
	siot_device_connect(&dev, now);
	input(wake, cfg.params.wakeup_length, now);
	read_hello(&cli);
	n = request(&cli, k, "alice", command, req);
	input(req, n, now + 1);
	return verify(&cli, key_alice, status, &result);
}

START_TEST(stream_hello_on_connect_one_request_then_close)
{
	struct siot_exchange cli;
	uint8_t req[SIOT_MAX_REQUEST], status = 0xff, result = 0xff;
	size_t n;

	setup_stream(0);
	input((const uint8_t *)"x", 1, 5); /* nobody connected: nothing read */
	ck_assert_uint_eq(board.sent_len, 0);
	siot_device_connect(&dev, 10);
	read_hello(&cli); /* at once, with no wake-up */
	n = request(&cli, key_alice, "alice", "led-on", req);
	ck_assert_uint_eq(req[0], 5); /* (a request that starts with 0x00 is malformed here) */
	input(req, n, 11);
	ck_assert_int_eq(verify(&cli, key_alice, &status, &result), 0);
	ck_assert_uint_eq(status, SIOT_STATUS_OK);
	ck_assert(board.pins[13]);
	ck_assert_uint_eq(board.closes, 1);
	ck_assert_uint_eq(board.discards, 0);
	/* max_requests 1: the same request again on that connection is not read. */
	input(req, n, 12);
	ck_assert_uint_eq(board.sent_len, 0);
	/* The next connection gets a HELLO of its own and is served. */
	ck_assert_int_eq(stream_send(key_alice, "led-off", 20, &status), 0);
	ck_assert_uint_eq(status, SIOT_STATUS_OK);
	ck_assert(!board.pins[13]);
	ck_assert_uint_eq(board.closes, 2);
}
END_TEST

START_TEST(stream_wakeup_is_exact)
{
	static const uint8_t three[3] = { 0xab, 0xcd, 0xef };

	setup_stream(2);
	siot_device_connect(&dev, 10);
	ck_assert_uint_eq(board.sent_len, 0);
	input(three, 1, 11); /* any value counts */
	ck_assert_uint_eq(board.sent_len, 0);
	input(three + 1, 1, 12);
	ck_assert_uint_gt(board.sent_len, 0); /* the HELLO */
	ck_assert_uint_eq(board.closes, 0);
	/* One byte more than the wake-up came before the HELLO: closed. */
	board.sent_len = 0;
	siot_device_connect(&dev, 20);
	input(three, 3, 21);
	ck_assert_uint_eq(board.sent_len, 0);
	ck_assert_uint_eq(board.closes, 1);
	ck_assert_uint_eq(dev.dropped, 1);
}
END_TEST

START_TEST(stream_deadline_malformed_and_disconnect)
{
	struct siot_exchange cli;
	uint8_t req[SIOT_MAX_REQUEST], status = 0xff;
	static const uint8_t zero_id[1] = { 0 };
	size_t n;

	setup_stream(1);
	/* Silent after connecting: dropped at the deadline, without a word. */
	siot_device_connect(&dev, 100);
	tick(100 + 999);
	ck_assert_uint_eq(board.closes, 0);
	tick(100 + 1000);
	ck_assert_uint_eq(board.closes, 1);
	ck_assert_uint_eq(board.sent_len, 0);
	/* An id_length of 0: closed without a response. */
	siot_device_connect(&dev, 2000);
	input(zero_id, 1, 2001); /* the wake-up */
	read_hello(&cli);
	input(zero_id, 1, 2002);
	ck_assert_uint_eq(board.closes, 2);
	ck_assert_uint_eq(board.sent_len, 0);
	/* Half a request, then the peer goes: the next one is served. */
	siot_device_connect(&dev, 3000);
	input(zero_id, 1, 3001);
	read_hello(&cli);
	n = request(&cli, key_alice, "alice", "led-on", req);
	input(req, n / 2, 3002);
	siot_device_disconnect(&dev);
	ck_assert(!board.pins[13]);
	ck_assert_int_eq(stream_send(key_alice, "led-on", 3010, &status), 0);
	ck_assert_uint_eq(status, SIOT_STATUS_OK);
	ck_assert(board.pins[13]);
	ck_assert_uint_eq(board.closes, 3);
}
END_TEST

START_TEST(stream_pulse_answers_then_closes_and_rejects_close)
{
	struct siot_exchange cli;
	uint8_t req[SIOT_MAX_REQUEST], status = 0xff, result = 0xff;
	size_t n;

	setup_stream(0);
	siot_device_connect(&dev, 10);
	read_hello(&cli);
	n = request(&cli, key_alice, "alice", "led-pulse", req);
	input(req, n, 11);
	ck_assert(board.pins[13]);
	ck_assert_uint_eq(board.sent_len, 0);
	ck_assert_uint_eq(board.closes, 0); /* open until the pulse answers */
	tick(11 + 100);
	ck_assert(!board.pins[13]);
	ck_assert_int_eq(verify(&cli, key_alice, &status, &result), 0);
	ck_assert_uint_eq(status, SIOT_STATUS_OK);
	ck_assert_uint_eq(board.closes, 1);
	/* A wrong key: REJECTED (under alice's key, whose id it named),
	 * nothing moves, closed. */
	ck_assert_int_eq(stream_send(key_other, "led-on", 200, &status), 0);
	ck_assert_uint_eq(status, SIOT_STATUS_REJECTED);
	ck_assert(!board.pins[13]);
	ck_assert_uint_eq(board.closes, 2);
	/* A stream needs close; a serial line still needs a wake-up. */
	stream_ops.close = NULL;
	ck_assert_int_eq(siot_device_init(&dev, &cfg, &stream_ops), -EINVAL);
	cfg.stream = false;
	ck_assert_int_eq(siot_device_init(&dev, &cfg, &board_ops), -EINVAL);
}
END_TEST

START_TEST(stream_input_end)
{
	struct siot_exchange cli;
	uint8_t req[SIOT_MAX_REQUEST], status = 0xff, result = 0xff;
	static const uint8_t wake[1] = { 7 };
	size_t n;

	setup_stream(1);
	/* The peer's FIN before its request: dropped and closed at once, not
	 * at the deadline. */
	siot_device_connect(&dev, 10);
	input(wake, 1, 11);
	read_hello(&cli);
	siot_device_input_end(&dev);
	ck_assert_uint_eq(board.closes, 1);
	ck_assert_uint_eq(dev.dropped, 1);
	ck_assert_uint_eq(board.sent_len, 0);
	/* After a whole request for a pulse: its answer still goes out, at
	 * the pulse's end, to a peer that only stopped sending. */
	siot_device_connect(&dev, 20);
	input(wake, 1, 21);
	read_hello(&cli);
	n = request(&cli, key_alice, "alice", "led-pulse", req);
	input(req, n, 22);
	siot_device_input_end(&dev);
	ck_assert_uint_eq(board.closes, 1);
	ck_assert(board.pins[13]);
	tick(22 + 100);
	ck_assert_int_eq(verify(&cli, key_alice, &status, &result), 0);
	ck_assert_uint_eq(status, SIOT_STATUS_OK);
	ck_assert_uint_eq(board.closes, 2);
	/* After the close, and on a serial line: nothing. */
	siot_device_input_end(&dev);
	ck_assert_uint_eq(board.closes, 2);
	ck_assert_uint_eq(dev.dropped, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("device");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	if (siot_init() < 0)
		return 99;
#if defined(SIOT_CRYPTO_MBEDTLS)
	{
		static const uint8_t seed[32] = { 0xde, 0x71 };
		if (siot_drbg_seed(seed, sizeof(seed), (const uint8_t *)"boot 1", 6) < 0)
			return 99;
	}
#endif
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, results_are_siotds);
	tcase_add_test(tc, pulse_answers_at_its_end_and_busy_meanwhile);
	tcase_add_test(tc, times_run_from_the_action);
	tcase_add_test(tc, wrong_key_unknown_and_disallowed_are_rejected);
	tcase_add_test(tc, replay_does_not_run);
	tcase_add_test(tc, deadline_noise_and_resent_wakeups);
	tcase_add_test(tc, call_and_classic);
	tcase_add_test(tc, bad_configs_are_refused);
	tcase_add_test(tc, ids_from_the_board);
	tcase_add_test(tc, stream_hello_on_connect_one_request_then_close);
	tcase_add_test(tc, stream_wakeup_is_exact);
	tcase_add_test(tc, stream_deadline_malformed_and_disconnect);
	tcase_add_test(tc, stream_pulse_answers_then_closes_and_rejects_close);
	tcase_add_test(tc, stream_input_end);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
