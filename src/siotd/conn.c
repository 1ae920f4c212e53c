/* SPDX-License-Identifier: MIT */
#include "conn_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "usec.h"

#define DRAIN_USEC USEC_PER_SEC

struct conn *conn_new(struct daemon *d, const struct conn_transport *t, void *data,
		      const struct conn_origin *origin)
{
	/* Not calloc: the exchange and the output buffer (8 KiB) need no
	 * zeroing here; siot_exchange_init does what the exchange needs. */
	struct conn *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	memset(c, 0, offsetof(struct conn, ex));
	siot_exchange_init(&c->ex, &d->config->params);
	c->d = d;
	c->cfg = config_ref(d->config);
	c->t = t;
	c->t_data = data;
	c->fd = -1;
	c->src = origin->src;
	c->addr = origin->addr;
	if (origin->ss)
		c->ss = *origin->ss;
	c->uid = origin->uid;
	snprintf(c->peer, sizeof(c->peer), "%s", origin->peer);
	if (origin->source)
		snprintf(c->source, sizeof(c->source), "%s", origin->source);
	list_add(&d->conns, &c->node);
	d->n_conns++;
	return c;
}

/* The one place a connection is freed. */
static void conn_free(struct conn *c)
{
	struct daemon *d = c->d;

	list_del(&c->node);
	d->n_conns--;
	siot_exchange_wipe(&c->ex);
	config_unref(c->cfg);
	c->t->release(c);
	free(c);
}

void conn_finish(struct conn *c, int r)
{
	if (r < 0)
		conn_free(c);
}

void *conn_transport_data(const struct conn *c)
{
	return c->t_data;
}

const char *conn_peer(const struct conn *c)
{
	return c->peer;
}

bool conn_awaits_request(const struct conn *c)
{
	return c->requests == 0 && c->rx_bytes == 0 &&
	       (c->state == CONN_WAKEUP || c->state == CONN_REQUEST);
}

bool conn_wants_request(const struct conn *c)
{
	return c->state == CONN_REQUEST && !c->out_len;
}

static uint64_t now_usec(const struct conn *c)
{
	uint64_t t = 0;
	sd_event_now(c->d->event, CLOCK_MONOTONIC, &t);
	return t;
}

/* The connection's deadline, usec from now, replacing any it had.  The
 * daemon's one timer moves only when this comes before it: a connection
 * that closes, or a deadline that moves later, leaves the timer as it is,
 * and its stale firing only finds nothing due. */
static void arm_timer(struct conn *c, uint64_t usec)
{
	struct daemon *d = c->d;

	c->deadline = now_usec(c) + usec;
	if (d->deadline_at && d->deadline_at <= c->deadline)
		return;
	d->deadline_at = c->deadline;
	sd_event_source_set_time(d->deadlines, c->deadline);
	sd_event_source_set_enabled(d->deadlines, SD_EVENT_ONESHOT);
}

static void receive(struct conn *c, bool on)
{
	if (c->t->receive)
		c->t->receive(c, on);
}

static const char *session_name(const struct conn *c)
{
	return c->t->name ? c->t->name(c) : NULL;
}

/* The peer without its port (log summaries), made the first time it is needed. */
static const char *source_of(struct conn *c)
{
	if (!c->source[0])
		log_format_source(&c->ss, c->uid, c->source, sizeof(c->source));
	return c->source;
}

static const char *client_name(const struct conn *c)
{
	if (c->decision.client)
		return c->decision.client->id;
	if (c->cfg->params.profile == SIOT_PROFILE_V1 && c->ex.client_id_len &&
	    c->ex.client_id_valid)
		return c->ex.client_id; /* unknown, but printable */
	return "-";
}

/* The request's one line: always written for a verified request (its tag
 * matched), summarised per source otherwise (log_unverified). */
static void log_outcome(struct conn *c, const char *outcome, const char *reason,
			const char *note)
{
	const struct command *cmd = c->decision.command;
	bool verified = c->decision.verdict == REQUEST_RUN ||
			c->decision.reason == REQUEST_AT_CONCURRENCY;
	uint64_t now = now_usec(c);
	struct log_line l = { .peer = c->peer,
			      .session = session_name(c),
			      .client = client_name(c),
			      .command = cmd ? cmd->name : "-",
			      .outcome = outcome,
			      .reason = reason,
			      .key = c->decision.fingerprint,
			      .duration_usec = now - c->request_time,
			      .note = note };

	if (verified)
		log_request(&l);
	else
		log_unverified(source_of(c), now, &l);
}

void conn_log_dropped(struct conn *c, const char *outcome, const char *note)
{
	struct log_line l = { .peer = c->peer,
			      .session = session_name(c),
			      .client = "-",
			      .command = "-",
			      .outcome = outcome,
			      .note = note };

	log_unverified(source_of(c), now_usec(c), &l);
}

/* Shut down our sending side and read until EOF (or 1 s), so the response
 * is not lost to a reset. */
static int start_drain(struct conn *c)
{
	int r = c->t->shutdown(c);

	if (r < 0)
		return r; /* nothing to drain */
	c->state = CONN_DRAIN;
	receive(c, true);
	arm_timer(c, DRAIN_USEC);
	return 0;
}

/* Write what is queued, then move on from what was being sent. */
static int flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		/* Where the queued HELLO starts, from here (0: none after it). */
		size_t mark = c->out_mark > c->out_off ? c->out_mark - c->out_off : 0;
		ssize_t n = c->t->send(c, c->out + c->out_off, c->out_len - c->out_off, mark);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0; /* the transport calls conn_writable */
		c->out_off += (size_t)n;
	}
	c->out_len = c->out_off = c->out_mark = 0;
	if (c->state == CONN_SENDING && c->close_after_send)
		return start_drain(c);
	if (c->state == CONN_SENDING)
		c->state = CONN_REQUEST;
	receive(c, true);
	return 0;
}

int conn_writable(struct conn *c)
{
	return flush(c);
}

/* Bytes that came before their HELLO: logged and counted against the source. */
static bool refuse_early_bytes(struct conn *c)
{
	if (!c->t->early(c))
		return false;
	conn_log_dropped(c, "malformed", "data before its HELLO");
	limiter_note_failure(c->d->limits, &c->src, NULL, &c->cfg->backoff, now_usec(c));
	return true;
}

/* Queue a fresh HELLO after whatever is queued, and start its deadline.
 * Every HELLO is answered under the current config: a client removed by a
 * reload cannot go on with a connection it already has. */
static int queue_hello(struct conn *c)
{
	uint8_t challenge[SIOT_MAX_CHALLENGE];

	if (refuse_early_bytes(c))
		return -EPROTO;
	if (c->cfg != c->d->config) {
		config_unref(c->cfg);
		c->cfg = config_ref(c->d->config);
	}
	siot_exchange_init(&c->ex, &c->cfg->params);
	randpool_take(&c->d->challenges, challenge, c->cfg->params.challenge_length);
	if (siot_server_hello(&c->ex, c->cfg->device_id, challenge) < 0) {
		log_error("cannot build a HELLO for device id %s", c->cfg->device_id);
		return -EINVAL;
	}
	c->out_mark = c->out_len;
	memcpy(c->out + c->out_len, c->ex.hello, c->ex.hello_len);
	c->out_len += c->ex.hello_len;
	c->decision = (struct request_decision){ 0 };
	c->rx_bytes = 0;
	arm_timer(c, c->requests == 0 ? c->cfg->handshake_timeout_usec : c->cfg->timeout_usec);
	return 0;
}

/* Queue a v1 response; then either the next HELLO or a close. */
static int respond_v1(struct conn *c, const struct siot_key *key, enum siot_status status,
		      uint8_t result, const uint8_t *output, size_t output_len)
{
	int n = siot_server_response(&c->ex, key, (uint8_t)status, result, output, output_len,
				     c->out, sizeof(c->out));

	if (n < 0) {
		errno = -n;
		log_warn("%s: cannot build a response", c->peer);
		return n;
	}
	c->out_len = c->out_mark = (size_t)n;
	c->out_off = 0;
	c->requests++;
	c->state = CONN_SENDING;
	/* A byte that came while the action ran is no next request: the
	 * response still goes out, then the connection closes. */
	c->close_after_send = status == SIOT_STATUS_REJECTED || status == SIOT_STATUS_BUSY ||
			      c->requests >= c->cfg->max_requests || c->d->stopping ||
			      refuse_early_bytes(c);
	if (c->close_after_send)
		arm_timer(c, c->cfg->timeout_usec); /* bounds the write */
	else if ((n = queue_hello(c)) < 0)
		return n;
	return flush(c);
}

/* classic answers only a completed run, and only when configured to. */
static int respond_classic(struct conn *c, const struct siot_key *key, enum siot_status status,
			   uint8_t result)
{
	int n;

	c->requests++;
	if (!key || !c->cfg->classic_response ||
	    (status != SIOT_STATUS_OK && status != SIOT_STATUS_FAILED))
		return start_drain(c);
	n = siot_server_response_classic(&c->ex, key, result, c->out);
	if (n < 0)
		return n;
	c->out_len = c->out_mark = (size_t)n;
	c->out_off = 0;
	c->state = CONN_SENDING;
	c->close_after_send = true;
	arm_timer(c, c->cfg->timeout_usec);
	return flush(c);
}

static int respond(struct conn *c, enum siot_status status, uint8_t result,
		   const uint8_t *output, size_t output_len)
{
	const struct siot_key *key = c->decision.key;

	if (c->cfg->params.profile == SIOT_PROFILE_CLASSIC)
		return respond_classic(c, key, status, result);
	return respond_v1(c, key, status, result, output, output_len);
}

/* The action has finished: its line, then its response. */
static int action_finished(struct conn *c, const struct action_result *r)
{
	size_t out_len = r->output_len;

	limiter_command_release(c->d->limits, c->decision.command->name);
	if (out_len > c->cfg->output_max)
		out_len = c->cfg->output_max;
	log_outcome(c, siot_status_name(r->status), NULL, r->note);
	return respond(c, r->status, r->result, out_len ? r->output : NULL, out_len);
}

static void on_action_done(void *userdata, const struct action_result *r)
{
	struct conn *c = userdata;

	conn_finish(c, action_finished(c, r));
}

/* Apply a RUN decision: take the command's slot and start its action. */
static int run(struct conn *c)
{
	const struct command *cmd = c->decision.command;
	struct action_context ctx = { .client_id = c->decision.client->id, .peer = c->peer,
				      .output_max = c->cfg->output_max };
	struct action_now now;
	int r = limiter_command_acquire(c->d->limits, cmd->name, cmd->concurrency);

	if (r == 0) {
		c->state = CONN_RUNNING;
		r = action_start(&c->d->actions, cmd, &ctx, &now, on_action_done, c);
		if (r == 1) /* finished already (a GPIO set, toggle or get) */
			return action_finished(c, &now.result);
		if (r == 0) {
			/* Nothing is read and no deadline runs while it does. */
			c->deadline = 0;
			receive(c, false);
			return 0;
		}
		limiter_command_release(c->d->limits, cmd->name);
	}
	if (r == -EBUSY) {
		log_outcome(c, "busy", "in-use", "its GPIO line is in use");
		return respond(c, SIOT_STATUS_BUSY, 0, NULL, 0);
	}
	log_outcome(c, "error", NULL, strerror(-r));
	return respond(c, SIOT_STATUS_ERROR, 0, NULL, 0);
}

/* True when a HELLO made under a can be answered under b. */
static bool same_exchange(const struct config *a, const struct config *b)
{
	return a->params.profile == b->params.profile && a->params.hash == b->params.hash &&
	       a->params.tag_length == b->params.tag_length &&
	       a->params.challenge_length == b->params.challenge_length &&
	       strcmp(a->device_id, b->device_id) == 0;
}

/* A reload since this request's HELLO: decide under the current config, so
 * a revoked client or key stops working at once, or drop the exchange if
 * the protocol parameters it was made with are gone. */
static int follow_reload(struct conn *c)
{
	if (c->cfg == c->d->config)
		return 0;
	if (!same_exchange(c->cfg, c->d->config)) {
		conn_log_dropped(c, "dropped",
			    "the configuration's protocol parameters changed under this exchange");
		return -ESTALE;
	}
	config_unref(c->cfg);
	c->cfg = config_ref(c->d->config);
	return 0;
}

static int handle_request(struct conn *c)
{
	const struct request_decision *dec = &c->decision;
	int r;

	c->request_time = now_usec(c);
	if ((r = follow_reload(c)) < 0)
		return r;
	request_decide(c->cfg, c->d->limits, &c->src, &c->addr, &c->ex, c->request_time,
		       &c->decision);
	if (c->cfg->mqtt && dec->reason != REQUEST_OVER_RATE && dec->reason != REQUEST_BACKING_OFF)
		limiter_note_scan(c->d->limits, &c->src, c->cfg->mqtt->request_rate,
				  c->request_time);

	switch (dec->verdict) {
	case REQUEST_REJECT:
		limiter_note_failure(c->d->limits, &c->src, dec->client ? dec->client->id : NULL,
				     &c->cfg->backoff, c->request_time);
		log_outcome(c, "rejected", request_reason_word(dec->reason),
			    request_reason_note(dec->reason));
		/* The result byte says why (siot-protocol(7)): 1 not from here. */
		return respond(c, SIOT_STATUS_REJECTED, dec->reason == REQUEST_NOT_FROM ? 1 : 0,
			       NULL, 0);
	case REQUEST_BUSY:
		if (dec->reason == REQUEST_AT_CONCURRENCY) /* its tag verified */
			limiter_note_success(c->d->limits, &c->src, dec->client->id, c->request_time);
		log_outcome(c, "busy", request_reason_word(dec->reason),
			    request_reason_note(dec->reason));
		/* The result byte says why (siot-protocol(7)): 1 backing off, 2 over
		 * the broker's request rate, 0 in use. */
		return respond(c, SIOT_STATUS_BUSY,
			       dec->reason == REQUEST_BACKING_OFF ? 1
			       : dec->reason == REQUEST_OVER_RATE ? 2
								   : 0,
			       NULL, 0);
	case REQUEST_RUN:
		limiter_note_success(c->d->limits, &c->src, dec->client->id, c->request_time);
		return run(c);
	}
	return -EINVAL;
}

static int read_wakeup(struct conn *c, size_t n)
{
	int r;

	c->wake_have += (unsigned)n;
	if (c->wake_have < c->cfg->params.wakeup_length)
		return 0;
	if ((r = queue_hello(c)) < 0)
		return r;
	c->state = CONN_REQUEST;
	return flush(c);
}

static int read_request(struct conn *c, const uint8_t *buf, size_t n)
{
	enum siot_feed f;
	size_t used = 0;

	if (c->state != CONN_REQUEST || c->out_len) {
		/* Bytes while our HELLO is still queued came before it. */
		conn_log_dropped(c, "malformed", "data before its HELLO");
		return -EPROTO;
	}
	c->rx_bytes += n;
	f = siot_server_feed(&c->ex, buf, n, &used);
	if (f == SIOT_FEED_MORE)
		return 0;
	if (f == SIOT_FEED_MALFORMED || used != n) {
		limiter_note_failure(c->d->limits, &c->src, NULL, &c->cfg->backoff, now_usec(c));
		conn_log_dropped(c, "malformed",
			    f == SIOT_FEED_MALFORMED ? siot_reason_str(c->ex.reason)
						     : "data after the request");
		return -EPROTO;
	}
	return handle_request(c);
}

int conn_feed_message(struct conn *c, const uint8_t *buf, size_t n)
{
	int r = read_request(c, buf, n);

	if (r == 0 && c->state == CONN_REQUEST && c->rx_bytes > 0 && !c->out_len) {
		limiter_note_failure(c->d->limits, &c->src, NULL, &c->cfg->backoff, now_usec(c));
		conn_log_dropped(c, "malformed", "a message shorter than a request");
		return -EPROTO;
	}
	return r;
}

size_t conn_read_size(const struct conn *c, size_t max)
{
	size_t want = max;

	if (c->state == CONN_WAKEUP)
		want = c->cfg->params.wakeup_length - c->wake_have;
	else if (c->state == CONN_REQUEST)
		want = SIOT_MAX_REQUEST; /* never read past one request's worth */
	return want < max ? want : max;
}

int conn_received(struct conn *c, const uint8_t *buf, size_t n)
{
	if (c->state == CONN_DRAIN)
		return n == 0 ? -ECONNRESET : 0;
	if (n == 0) {
		if (c->state == CONN_REQUEST && c->rx_bytes > 0)
			conn_log_dropped(c, "dropped", "closed mid-request");
		return -ECONNRESET;
	}
	if (c->state == CONN_WAKEUP)
		return read_wakeup(c, n);
	return read_request(c, buf, n);
}

static int deadline_passed(struct conn *c)
{
	switch (c->state) {
	case CONN_WAKEUP:
	case CONN_REQUEST:
		if (c->requests > 0 && c->rx_bytes == 0) {
			log_debug("%s: idle after %u requests, closing", c->peer, c->requests);
			return -ETIMEDOUT;
		}
		conn_log_dropped(c, "dropped", "no complete request before the deadline");
		limiter_note_failure(c->d->limits, &c->src, NULL, &c->cfg->backoff, now_usec(c));
		return -ETIMEDOUT;
	case CONN_SENDING:
		log_request(&(struct log_line){ .peer = c->peer,
						.session = session_name(c),
						.client = client_name(c),
						.command = "-",
						.outcome = "dropped",
						.note = "response not taken before the deadline" });
		return -ETIMEDOUT;
	case CONN_RUNNING:
		return 0; /* not armed while running */
	case CONN_DRAIN:
		return -ETIMEDOUT;
	}
	return -EINVAL;
}

/* The daemon's deadline timer: end every connection whose deadline has
 * come, then wait for the earliest one left, if any. */
static int on_deadlines(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	struct list_node *n, *tmp;
	uint64_t now = 0, next = 0;

	(void)s;
	(void)usec;
	sd_event_now(d->event, CLOCK_MONOTONIC, &now);
	d->deadline_at = 0;
	list_for_each_safe(n, tmp, &d->conns) {
		struct conn *c = list_entry(n, struct conn, node);

		if (!c->deadline)
			continue;
		if (c->deadline <= now) {
			c->deadline = 0;
			conn_finish(c, deadline_passed(c));
		} else if (!next || c->deadline < next) {
			next = c->deadline;
		}
	}
	/* (Unless something ended above armed an earlier one already.) */
	if (next && (!d->deadline_at || next < d->deadline_at)) {
		d->deadline_at = next;
		sd_event_source_set_time(s, next);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	}
	return 0;
}

int conn_deadlines_init(struct daemon *d)
{
	int r = sd_event_add_time(d->event, &d->deadlines, CLOCK_MONOTONIC, 0,
				  ACCURACY_NETWORK_USEC, on_deadlines, d);

	if (r < 0)
		return r;
	return sd_event_source_set_enabled(d->deadlines, SD_EVENT_OFF);
}

int conn_start(struct conn *c)
{
	int r;

	arm_timer(c, c->cfg->handshake_timeout_usec);
	log_debug("%s: connected", c->peer);
	if (c->cfg->params.wakeup_length > 0 && c->t->wakeup) {
		c->state = CONN_WAKEUP; /* the first deadline covers the wake-up */
		return 0;
	}
	c->state = CONN_REQUEST;
	if ((r = queue_hello(c)) < 0)
		return r;
	return flush(c);
}

void conn_close_idle(struct daemon *d)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &d->conns) {
		struct conn *c = list_entry(n, struct conn, node);
		if (c->state != CONN_RUNNING && c->state != CONN_SENDING)
			conn_finish(c, -ECANCELED);
	}
}
