/* SPDX-License-Identifier: MIT */
/* The device core: see siot_device.h. */
#include "siot_device.h"

#include <errno.h>
#include <string.h>

/* ST_IDLE and ST_DONE are a stream's: no peer (or one whose exchange is
 * over and closed), and a request in whose answer waits for its action (a
 * pulse). */
enum { ST_WAKE = 0, ST_REQUEST, ST_IDLE, ST_DONE };

#define NO_CLIENT 0xff

/* Functions that hold a key state each run one after the other, never
 * nested, so a part's RAM needs room for one key at a time (plus the scan's
 * working state): keep the compiler from merging their frames. */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif
/* (So are the two that hold an id: their buffers are gone before a scan.) */

#define DEFAULT_TIMEOUT_MS 5000u

/* a >= b on a wrapping millisecond clock. */
static bool reached(uint32_t now, uint32_t when)
{
	return (int32_t)(now - when) >= 0;
}

/* A copy of a command and its name, when the board keeps the table. */
struct cmd_copy {
	struct siot_dev_command c;
	char name[SIOT_DEVICE_MAX_NAME + 1];
};

/* Command i: the board's copy (into *tmp) or the table's own. */
static const struct siot_dev_command *command_at(const struct siot_dev_config *cfg,
						 const struct siot_dev_board *board, uint8_t i,
						 struct cmd_copy *tmp)
{
	if (!board->command)
		return &cfg->commands[i];
	memset(tmp, 0, sizeof(*tmp));
	board->command(board->ctx, i, &tmp->c, tmp->name);
	tmp->name[SIOT_DEVICE_MAX_NAME] = '\0';
	tmp->c.name = tmp->name;
	return &tmp->c;
}

/* Id `which` (SIOT_DEV_DEVICE_ID or a client's index): the board's copy
 * (into buf) or the configuration's own. */
static const char *id_at(const struct siot_dev_config *cfg, const struct siot_dev_board *board,
			 uint8_t which, char buf[SIOT_MAX_ID + 1])
{
	if (!board->id)
		return which == SIOT_DEV_DEVICE_ID ? cfg->device_id : cfg->clients[which].id;
	buf[0] = '\0';
	board->id(board->ctx, which, buf);
	buf[SIOT_MAX_ID] = '\0';
	return buf;
}

static bool valid_id(const char *id)
{
	return id && siot_valid_id(id, strlen(id));
}

/* A stream's rules apply (never in a build without them). */
static bool stream(const struct siot_dev_config *cfg)
{
	return SIOT_DEVICE_STREAM && cfg->stream;
}

static bool classic(const struct siot_device *d)
{
	if (!SIOT_DEVICE_CLASSIC)
		return false;
	if (!SIOT_DEVICE_V1)
		return true;
	return d->cfg->params.profile == SIOT_PROFILE_CLASSIC;
}

int siot_device_init(struct siot_device *d, const struct siot_dev_config *cfg,
		     const struct siot_dev_board *board)
{
	const struct siot_params *p = &cfg->params;
	char id[SIOT_MAX_ID + 1];

	memset(d, 0, sizeof(*d));
	if ((p->profile == SIOT_PROFILE_V1 && !SIOT_DEVICE_V1) ||
	    (p->profile == SIOT_PROFILE_CLASSIC && !SIOT_DEVICE_CLASSIC))
		return -EINVAL; /* a profile this build left out */
	if ((cfg->stream && (!SIOT_DEVICE_STREAM || !board->close)) ||
	    (!cfg->stream && p->wakeup_length < 1) ||
	    cfg->n_commands < 1 ||
	    cfg->n_commands > SIOT_DEVICE_MAX_COMMANDS || cfg->n_clients < 1 ||
	    (p->profile == SIOT_PROFILE_CLASSIC && cfg->n_clients != 1) || !board->send ||
	    !board->now ||
	    !board->load_key || !board->pin_write || !board->pin_read)
		return -EINVAL;
	if (p->profile == SIOT_PROFILE_V1 && !valid_id(id_at(cfg, board, SIOT_DEV_DEVICE_ID, id)))
		return -EINVAL;
	if (!board->command && !cfg->commands)
		return -EINVAL;
	for (uint8_t i = 0; i < cfg->n_commands; i++) {
		struct cmd_copy tmp;
		const struct siot_dev_command *c = command_at(cfg, board, i, &tmp);
		size_t n = c->name ? strlen(c->name) : 0;

		if (!siot_valid_command(c->name, n) ||
		    (p->profile == SIOT_PROFILE_CLASSIC && n < 2) || c->op > SIOT_DEV_CALL ||
		    (c->op == SIOT_DEV_CALL && !c->call) || (c->op == SIOT_DEV_PULSE && !c->pulse_ms))
			return -EINVAL;
	}
	for (uint8_t i = 0; i < cfg->n_clients; i++)
		if (p->profile == SIOT_PROFILE_V1 && !valid_id(id_at(cfg, board, i, id)))
			return -EINVAL;
	d->cfg = cfg;
	d->board = board;
	d->pulse_cmd = -1;
	d->state = stream(cfg) ? ST_IDLE : ST_WAKE;
	siot_exchange_init(&d->ex, p);
	/* The dummy key, for unknown client ids: the board's, or random. */
	{
		struct siot_key probe;
		int have = board->load_key(board->ctx, SIOT_DEV_DUMMY_KEY, &probe);

		siot_key_wipe(&probe);
#if SIOT_DEVICE_LOW_RAM
		if (have < 0)
			return -EINVAL;
#else
		d->own_dummy = have < 0;
		if (d->own_dummy && siot_random(d->dummy_key, sizeof(d->dummy_key)) < 0)
			return -EIO;
#endif
	}
	return 0;
}

/* The client whose id the request names, or NO_CLIENT. */
static NOINLINE uint8_t find_client(const struct siot_device *d)
{
	char id[SIOT_MAX_ID + 1];

	if (classic(d))
		return 0;
	if (!d->ex.client_id_valid)
		return NO_CLIENT;
	for (uint8_t i = 0; i < d->cfg->n_clients; i++)
		if (strcmp(id_at(d->cfg, d->board, i, id), d->ex.client_id) == 0)
			return i;
	return NO_CLIENT;
}

/* The key of client i (or the dummy key); false when only the dummy key
 * could be made. */
static bool load_key(struct siot_device *d, uint8_t client, struct siot_key *key)
{
	if (client != NO_CLIENT && d->board->load_key(d->board->ctx, client, key) == 0)
		return true;
#if !SIOT_DEVICE_LOW_RAM
	if (d->own_dummy) {
		siot_key_init(key, d->cfg->params.hash, d->dummy_key, sizeof(d->dummy_key));
		return false;
	}
#endif
	if (d->board->load_key(d->board->ctx, SIOT_DEV_DUMMY_KEY, key) < 0)
		/* Unreadable now though it was at start-up: any key keeps the
		 * MAC count, and nothing runs for NO_CLIENT whatever matches. */
		siot_key_init(key, d->cfg->params.hash, d->ex.hello, 16);
	return false;
}

/* Answer under client's key (the dummy key for NO_CLIENT). */
static NOINLINE void answer(struct siot_device *d, uint8_t client, uint8_t status,
			    uint8_t result)
{
	struct siot_key key;
	uint8_t out[SIOT_RESPONSE_FIXED + SIOT_MAX_DIGEST];
	int n;

	if (classic(d)) {
		/* classic answers only an action that ran to completion. */
		if (!d->cfg->classic_response ||
		    (status != SIOT_STATUS_OK && status != SIOT_STATUS_FAILED))
			return;
		load_key(d, client, &key);
		n = siot_server_response_classic_consume(&d->ex, &key, result, out);
	} else {
		load_key(d, client, &key);
		n = siot_server_response_consume(&d->ex, &key, status, result, NULL, 0, out,
						 sizeof(out));
	}
	if (n > 0) {
		d->board->send(d->board->ctx, out, (size_t)n);
		d->answered++;
	}
}

static void write_level(struct siot_device *d, const struct siot_dev_command *c, bool logical)
{
	d->board->pin_write(d->board->ctx, c->pin, logical != (c->active_low != 0));
}

/* Run command i for client `client`; answer unless a pulse answers later. */
static void run(struct siot_device *d, uint8_t i, uint8_t client)
{
	struct cmd_copy tmp;
	const struct siot_dev_command *c = command_at(d->cfg, d->board, i, &tmp);
	uint8_t status = SIOT_STATUS_OK, result = 0;
	bool level;

	if (d->pulse_cmd >= 0 && d->pulse_pin == c->pin) {
		answer(d, client, SIOT_STATUS_BUSY, 0);
		return;
	}
	switch (c->op) {
	case SIOT_DEV_SET:
		write_level(d, c, c->value);
		break;
	case SIOT_DEV_TOGGLE:
		level = d->board->pin_read(d->board->ctx, c->pin);
		d->board->pin_write(d->board->ctx, c->pin, !level);
		break;
	case SIOT_DEV_GET:
		level = d->board->pin_read(d->board->ctx, c->pin);
		result = level != (c->active_low != 0);
		break;
	case SIOT_DEV_CALL:
		status = c->call(d->board->ctx, &result);
		break;
	case SIOT_DEV_PULSE:
		write_level(d, c, c->value);
		d->pulse_cmd = (int8_t)i;
		d->pulse_pin = c->pin;
		d->pulse_client = client;
		d->pulse_answer = true;
		d->pulse_end = d->board->now(d->board->ctx) + c->pulse_ms;
		return;
	}
	answer(d, client, status, result);
}

/* Every command's MAC under the client's key (or the dummy key): 1 and
 * *match when one matched, else 0.  *client becomes NO_CLIENT when its key
 * could not be loaded.  The names come one at a time (from the board's
 * table, too), in both forms. */
static NOINLINE int scan(struct siot_device *d, uint8_t *client, size_t *match)
{
	uint8_t n = d->cfg->n_commands;
	struct siot_scan acc = { 0 };
	int found;

	d->ex.macs = 0;
#if SIOT_DEVICE_LOW_RAM
	/* One key state at a time, made afresh for each candidate. */
	bool known = true;

	for (uint8_t i = 0; i < n; i++) {
		struct siot_key key;
		struct cmd_copy tmp;
		const struct siot_dev_command *c = command_at(d->cfg, d->board, i, &tmp);

		known &= load_key(d, *client, &key);
		siot_server_scan_one(&d->ex, &key, c->name, i, &acc);
	}
	if (!known)
		*client = NO_CLIENT;
#else
	/* The fast scan: the key and the MAC's prefix once, then a copy of
	 * that state per candidate. */
	struct siot_key key;

	if (!load_key(d, *client, &key))
		*client = NO_CLIENT;
	(void)siot_server_scan_prefix(&d->ex, &key, &acc); /* -EINVAL ends the scan so */
	for (uint8_t i = 0; i < n; i++) {
		struct cmd_copy tmp;
		const struct siot_dev_command *c = command_at(d->cfg, d->board, i, &tmp);

		siot_server_scan_from(&d->ex, &key, c->name, i, &acc);
	}
	siot_key_wipe(&key);
#endif
	found = siot_server_scan_end(&acc, match);
	d->last_macs = (uint16_t)d->ex.macs;
	return found;
}

/* A stream's exchange is over (answered, or dropped): the board shuts
 * down its sending side, drains and closes (one request per connection,
 * max_requests 1); nothing more is read until the next connection. */
static void end_stream(struct siot_device *d)
{
	siot_exchange_wipe(&d->ex);
	d->state = ST_IDLE;
	d->board->close(d->board->ctx);
}

static void request_done(struct siot_device *d)
{
	uint8_t client = find_client(d);
	size_t match = 0;
	int found = scan(d, &client, &match);

	if (found == 1 && client != NO_CLIENT && (d->cfg->clients[client].allowed >> match & 1u))
		run(d, (uint8_t)match, client);
	else
		answer(d, client, SIOT_STATUS_REJECTED, 0);
	if (stream(d->cfg)) {
		if (d->pulse_answer)
			d->state = ST_DONE; /* the pulse's end answers, then closes */
		else
			end_stream(d);
	}
}

static NOINLINE bool start_exchange(struct siot_device *d)
{
	uint16_t t = d->cfg->timeout_ms ? d->cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	char id[SIOT_MAX_ID + 1];
	const char *device_id = classic(d) ? NULL : id_at(d->cfg, d->board, SIOT_DEV_DEVICE_ID, id);

	/* A wake-up during a pulse means its client has given up waiting. */
	d->pulse_answer = false;
	siot_exchange_init(&d->ex, &d->cfg->params);
	if (siot_server_hello(&d->ex, device_id, NULL) < 0) {
		d->dropped++;
		return false;
	}
	/* Whatever came before the HELLO leaves cannot be its request: drop it
	 * now, not after sending, when the request may already be arriving
	 * (seen in QEMU: the client answered the HELLO's last byte before the
	 * send returned, and its request was dropped).  On a stream such bytes
	 * close the connection instead (siot_device_input). */
	if (d->board->discard_input && !stream(d->cfg))
		d->board->discard_input(d->board->ctx);
	d->board->send(d->board->ctx, d->ex.hello, d->ex.hello_len);
	d->deadline = d->board->now(d->board->ctx) + t; /* from the HELLO, once it is out */
	d->req_started = false;
	d->state = ST_REQUEST;
	return true;
}

/* A stream (siot-protocol(7)'s TCP rules): exactly wakeup_length bytes of
 * any value, then the HELLO; a byte that came before the HELLO went out
 * closes the connection; then one request, read as it comes (0x00 is a
 * byte of it); nothing after it is read. */
static void stream_input(struct siot_device *d, const uint8_t *buf, size_t len)
{
	size_t i = 0;

	if (d->state == ST_WAKE) {
		size_t want = (size_t)(d->cfg->params.wakeup_length - d->wake_have);

		i = len < want ? len : want;
		d->wake_have = (uint8_t)(d->wake_have + i);
		if (i < want)
			return;
		d->wake_have = 0;
		if (i < len || !start_exchange(d)) {
			d->dropped++;
			end_stream(d);
		}
		return;
	}
	while (d->state == ST_REQUEST && i < len) {
		size_t used = 0;
		enum siot_feed r = siot_server_feed(&d->ex, buf + i, len - i, &used);

		i += used;
		if (r == SIOT_FEED_MORE)
			continue;
		if (r == SIOT_FEED_DONE) {
			request_done(d);
		} else {
			d->dropped++;
			end_stream(d);
		}
	}
}

void siot_device_connect(struct siot_device *d, uint32_t now)
{
	uint16_t t = d->cfg->timeout_ms ? d->cfg->timeout_ms : DEFAULT_TIMEOUT_MS;

	siot_device_tick(d, now);
	if (!stream(d->cfg))
		return;
	/* (A board serves one connection at a time: one before this one that
	 * it never reported gone has lost its answer.) */
	d->pulse_answer = false;
	d->wake_have = 0;
	d->deadline = now + t; /* the wake-up counts against the first deadline */
	d->state = ST_WAKE;
	if (d->cfg->params.wakeup_length == 0 && !start_exchange(d))
		end_stream(d);
}

void siot_device_disconnect(struct siot_device *d)
{
	if (!stream(d->cfg) || d->state == ST_IDLE)
		return;
	d->pulse_answer = false; /* a pulse runs on, its client gone */
	siot_exchange_wipe(&d->ex);
	d->state = ST_IDLE;
}

void siot_device_input_end(struct siot_device *d)
{
	if (stream(d->cfg) && (d->state == ST_WAKE || d->state == ST_REQUEST)) {
		d->dropped++;
		end_stream(d);
	}
}

void siot_device_input(struct siot_device *d, const uint8_t *buf, size_t len, uint32_t now)
{
	size_t i = 0;

	siot_device_tick(d, now);
	if (stream(d->cfg)) {
		stream_input(d, buf, len);
		return;
	}
	while (i < len) {
		if (d->state == ST_WAKE) {
			/* Only a run of wakeup_length zeros wakes the device;
			 * anything else is noise. */
			if (buf[i++] != 0) {
				d->wake_have = 0;
				continue;
			}
			if (++d->wake_have < d->cfg->params.wakeup_length)
				continue;
			d->wake_have = 0;
			start_exchange(d);
			return; /* the rest of this chunk came before the HELLO */
		}
		if (!classic(d) && !d->req_started && buf[i] == 0) {
			i++; /* a resent wake-up */
			continue;
		}
		d->req_started = true;
		{
			size_t used = 0;
			enum siot_feed r = siot_server_feed(&d->ex, buf + i, len - i, &used);

			i += used;
			if (r == SIOT_FEED_MORE)
				continue;
			d->state = ST_WAKE;
			if (r == SIOT_FEED_DONE)
				request_done(d);
			else
				d->dropped++;
		}
		/* One request per wake-up: the rest of this chunk is noise
		 * until the next one, and is read as such. */
	}
}

void siot_device_tick(struct siot_device *d, uint32_t now)
{
	if (stream(d->cfg) && (d->state == ST_WAKE || d->state == ST_REQUEST) &&
	    reached(now, d->deadline)) {
		d->dropped++;
		end_stream(d); /* too slow: dropped without an answer */
	} else if (d->state == ST_REQUEST && reached(now, d->deadline)) {
		d->state = ST_WAKE;
		d->wake_have = 0;
		d->dropped++;
		siot_exchange_wipe(&d->ex);
	}
	if (d->pulse_cmd >= 0 && reached(now, d->pulse_end)) {
		struct cmd_copy tmp;
		const struct siot_dev_command *c =
			command_at(d->cfg, d->board, (uint8_t)d->pulse_cmd, &tmp);

		write_level(d, c, !c->value);
		d->pulse_cmd = -1;
		if (d->pulse_answer) {
			d->pulse_answer = false;
			answer(d, d->pulse_client, SIOT_STATUS_OK, 0);
			if (stream(d->cfg) && d->state == ST_DONE)
				end_stream(d);
		}
	}
}
