/* SPDX-License-Identifier: MIT */
/*
 * One connection's state machine:
 *   wake-up -> HELLO -> request -> verify -> action -> response
 *   -> (next HELLO | shutdown, drain, close)
 * with a deadline for each request that starts when its HELLO is sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "action.h"
#include "daemon.h"
#include "log.h"

#define USEC_PER_SEC 1000000ULL
#define DRAIN_USEC USEC_PER_SEC
#define ACCEPT_BATCH 64

enum conn_state {
	CONN_WAKEUP,   /* reading wake-up bytes */
	CONN_REQUEST,  /* HELLO sent (or being sent), reading the request */
	CONN_RUNNING,  /* the action runs; nothing is read */
	CONN_SENDING,  /* writing a response (and maybe the next HELLO) */
	CONN_DRAIN,    /* sending side shut down, reading until EOF */
};

struct conn {
	struct daemon *d;
	struct config *cfg; /* the config this connection started with */
	int fd;
	sd_event_source *io, *timer;
	struct source_key src;
	char peer[80];
	enum conn_state state;
	unsigned wake_have;
	unsigned requests;        /* requests answered so far */
	size_t rx_bytes;          /* bytes of the current request read so far */
	bool close_after_send;
	struct siot_exchange ex;
	const struct client *client;
	const struct command *command;
	uint64_t request_time;    /* when the request was complete */
	uint8_t out[SIOT_MAX_RESPONSE + SIOT_MAX_HELLO];
	size_t out_len, out_off;
	struct conn *next, *prev;
};

static void conn_free(struct conn *c)
{
	struct daemon *d = c->d;

	c->io = sd_event_source_disable_unref(c->io);
	c->timer = sd_event_source_disable_unref(c->timer);
	if (c->fd >= 0)
		close(c->fd);
	limiter_conn_close(d->limits, &c->src);
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->n_conns--;
	siot_exchange_wipe(&c->ex);
	config_unref(c->cfg);
	free(c);
	daemon_conn_closed(d);
}

static uint64_t now_usec(struct conn *c)
{
	uint64_t t = 0;
	sd_event_now(c->d->event, CLOCK_MONOTONIC, &t);
	return t;
}

static void arm_timer(struct conn *c, uint64_t usec)
{
	sd_event_source_set_time_relative(c->timer, usec);
	sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

static uint64_t timeout_usec(const struct conn *c)
{
	return (uint64_t)(c->cfg->timeout * USEC_PER_SEC);
}

static void watch(struct conn *c, uint32_t events)
{
	sd_event_source_set_io_events(c->io, events);
	sd_event_source_set_enabled(c->io, events ? SD_EVENT_ON : SD_EVENT_OFF);
}

static const char *client_name(const struct conn *c)
{
	if (c->client)
		return c->client->id;
	if (c->cfg->params.profile == SIOT_PROFILE_V1 && c->ex.client_id_len &&
	    c->ex.client_id_valid)
		return c->ex.client_id; /* unknown, but printable */
	return "-";
}

static void log_outcome(struct conn *c, const char *outcome, const char *note)
{
	log_request(c->peer, client_name(c), c->command ? c->command->name : "-", outcome,
		    now_usec(c) - c->request_time, note);
}

/* Shut down our sending side and read until EOF (or 1 s), so the response
 * is not lost to a reset. */
static void start_drain(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_DRAIN;
	watch(c, EPOLLIN);
	arm_timer(c, DRAIN_USEC);
}

/* Write what is queued; returns false when the connection was closed. */
static bool flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			watch(c, EPOLLOUT);
			return true;
		}
		if (n <= 0) {
			log_debug("%s: write failed: %s", c->peer, strerror(errno));
			conn_free(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	c->out_len = c->out_off = 0;
	if (c->state == CONN_SENDING) {
		if (c->close_after_send) {
			start_drain(c);
		} else {
			c->state = CONN_REQUEST;
			watch(c, EPOLLIN);
		}
	} else {
		watch(c, EPOLLIN);
	}
	return true;
}

/* True when the peer sent bytes we have not asked for yet. */
static bool early_bytes(struct conn *c)
{
	uint8_t b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n > 0;
}

/* Queue a fresh HELLO after whatever is queued, and start its deadline. */
static bool queue_hello(struct conn *c)
{
	if (early_bytes(c)) {
		log_request(c->peer, "-", "-", "malformed", 0, "data before its HELLO");
		limiter_note_failure(c->d->limits, &c->src, &c->cfg->backoff, now_usec(c));
		conn_free(c);
		return false;
	}
	siot_exchange_init(&c->ex, &c->cfg->params);
	if (siot_server_hello(&c->ex, c->cfg->device_id, NULL) < 0) {
		log_error("cannot build a HELLO for device id %s", c->cfg->device_id);
		conn_free(c);
		return false;
	}
	memcpy(c->out + c->out_len, c->ex.hello, c->ex.hello_len);
	c->out_len += c->ex.hello_len;
	c->client = NULL;
	c->command = NULL;
	c->rx_bytes = 0;
	arm_timer(c, timeout_usec(c));
	return true;
}

/* Queue a v1 response; then either the next HELLO or a close. */
static void respond_v1(struct conn *c, const struct siot_key *key, enum siot_status status,
		       uint8_t result, const uint8_t *output, size_t output_len)
{
	int n;

	n = siot_server_response(&c->ex, key, (uint8_t)status, result, output, output_len, c->out,
				 sizeof(c->out));
	if (n < 0) {
		log_error("%s: cannot build a response: %s", c->peer, strerror(-n));
		conn_free(c);
		return;
	}
	c->out_len = (size_t)n;
	c->out_off = 0;
	c->requests++;
	c->state = CONN_SENDING;
	c->close_after_send = status == SIOT_STATUS_REJECTED || status == SIOT_STATUS_BUSY ||
			      c->requests >= c->cfg->max_requests || c->d->stopping;
	if (c->close_after_send)
		arm_timer(c, timeout_usec(c)); /* bounds the write */
	else if (!queue_hello(c))
		return;
	flush(c);
}

/* classic answers only a completed run, and only when configured to. */
static void respond_classic(struct conn *c, const struct siot_key *key, enum siot_status status,
			    uint8_t result)
{
	int n;

	c->requests++;
	if (!key || !c->cfg->classic_response ||
	    (status != SIOT_STATUS_OK && status != SIOT_STATUS_FAILED)) {
		start_drain(c);
		return;
	}
	n = siot_server_response_classic(&c->ex, key, result, c->out);
	if (n < 0) {
		conn_free(c);
		return;
	}
	c->out_len = (size_t)n;
	c->out_off = 0;
	c->state = CONN_SENDING;
	c->close_after_send = true;
	arm_timer(c, timeout_usec(c));
	flush(c);
}

static void respond(struct conn *c, const struct siot_key *key, enum siot_status status,
		    uint8_t result, const uint8_t *output, size_t output_len)
{
	if (c->cfg->params.profile == SIOT_PROFILE_CLASSIC)
		respond_classic(c, key, status, result);
	else
		respond_v1(c, key, status, result, output, output_len);
}

static void on_action_done(void *userdata, const struct action_result *r)
{
	struct conn *c = userdata;
	size_t out_len = r->output_len;

	limiter_command_release(c->d->limits, c->command->name);
	if (out_len > c->cfg->output_max)
		out_len = c->cfg->output_max;
	log_outcome(c, siot_status_name(r->status), r->note);
	respond(c, c->client->key, r->status, r->result, out_len ? r->output : NULL, out_len);
}

static void handle_request(struct conn *c)
{
	struct config *cfg = c->cfg;
	const struct siot_key *key = cfg->dummy_key;
	struct action_context ctx;
	size_t match = 0;
	int r;

	c->request_time = now_usec(c);
	sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
	watch(c, 0);

	if (cfg->params.profile == SIOT_PROFILE_V1 && c->ex.client_id_valid) {
		c->client = config_find_client(cfg, c->ex.client_id);
		if (c->client)
			key = c->client->key;
	}

	/* A source in backoff: BUSY, with no candidate computed. */
	if (limiter_backing_off(c->d->limits, &c->src, c->request_time)) {
		log_outcome(c, "busy", "source is backing off");
		respond(c, cfg->params.profile == SIOT_PROFILE_V1 ? key : NULL, SIOT_STATUS_BUSY, 0,
			NULL, 0);
		return;
	}

	if (cfg->params.profile == SIOT_PROFILE_CLASSIC) {
		r = siot_server_scan_classic(&c->ex, cfg->candidates, cfg->n_candidates, &match);
		if (r == 1) {
			c->client = &cfg->clients[cfg->candidate_client[match]];
			c->command = &cfg->commands[cfg->candidate_command[match]];
		}
	} else if (c->client) {
		r = siot_server_scan(&c->ex, key, c->client->commands, c->client->n_commands, &match);
		if (r == 1)
			c->command = &cfg->commands[c->client->command_index[match]];
	} else {
		/* Unknown client: the same work against every command, result unused. */
		siot_server_scan(&c->ex, key, cfg->all_commands, cfg->n_commands, &match);
		r = 0;
	}

	if (r != 1) {
		limiter_note_failure(c->d->limits, &c->src, &cfg->backoff, c->request_time);
		log_outcome(c, "rejected",
			    cfg->params.profile == SIOT_PROFILE_CLASSIC ? "no command matched"
			    : !c->ex.client_id_valid		       ? "invalid client id"
			    : !c->client			       ? "unknown client"
								       : "no allowed command matched");
		respond(c, cfg->params.profile == SIOT_PROFILE_V1 ? key : NULL,
			SIOT_STATUS_REJECTED, 0, NULL, 0);
		return;
	}
	limiter_note_success(c->d->limits, &c->src);

	r = limiter_command_acquire(c->d->limits, c->command->name, c->command->concurrency);
	if (r < 0) {
		log_outcome(c, "busy", "command at its concurrency limit");
		respond(c, c->client->key, SIOT_STATUS_BUSY, 0, NULL, 0);
		return;
	}
	ctx = (struct action_context){ .client_id = c->client->id, .peer = c->peer,
				       .output_max = cfg->output_max };
	c->state = CONN_RUNNING;
	r = action_start(c->d->event, cfg, c->command, &ctx, on_action_done, c);
	if (r == -EBUSY) {
		limiter_command_release(c->d->limits, c->command->name);
		log_outcome(c, "busy", "its GPIO line is in use");
		respond(c, c->client->key, SIOT_STATUS_BUSY, 0, NULL, 0);
	} else if (r < 0) {
		limiter_command_release(c->d->limits, c->command->name);
		log_outcome(c, "error", strerror(-r));
		respond(c, c->client->key, SIOT_STATUS_ERROR, 0, NULL, 0);
	}
}

static void on_readable(struct conn *c)
{
	uint8_t buf[512];
	size_t want = sizeof(buf), used = 0;
	enum siot_feed f;
	ssize_t n;

	if (c->state == CONN_WAKEUP)
		want = c->cfg->params.wakeup_length - c->wake_have;
	else if (c->state == CONN_REQUEST)
		want = SIOT_MAX_REQUEST; /* never read past one request's worth */
	n = recv(c->fd, buf, want, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (c->state == CONN_DRAIN) {
		if (n <= 0)
			conn_free(c);
		return;
	}
	if (n <= 0) {
		if (c->state == CONN_REQUEST && c->rx_bytes > 0)
			log_request(c->peer, "-", "-", "dropped", 0, "closed mid-request");
		conn_free(c);
		return;
	}
	if (c->state == CONN_WAKEUP) {
		c->wake_have += (unsigned)n;
		if (c->wake_have == c->cfg->params.wakeup_length && queue_hello(c)) {
			c->state = CONN_REQUEST;
			flush(c);
		}
		return;
	}
	if (c->state != CONN_REQUEST || c->out_len) {
		/* Bytes while our HELLO is still queued came before it. */
		log_request(c->peer, "-", "-", "malformed", 0, "data before its HELLO");
		conn_free(c);
		return;
	}
	c->rx_bytes += (size_t)n;
	f = siot_server_feed(&c->ex, buf, (size_t)n, &used);
	if (f == SIOT_FEED_MORE)
		return;
	if (f == SIOT_FEED_MALFORMED || used != (size_t)n) {
		limiter_note_failure(c->d->limits, &c->src, &c->cfg->backoff, now_usec(c));
		log_request(c->peer, "-", "-", "malformed",
			    0, f == SIOT_FEED_MALFORMED ? siot_reason_str(c->ex.reason)
							: "data after the request");
		conn_free(c);
		return;
	}
	handle_request(c);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *c = userdata;

	(void)s;
	(void)fd;
	if (revents & EPOLLOUT) {
		flush(c);
		return 0;
	}
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(c);
	return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct conn *c = userdata;

	(void)s;
	(void)usec;
	switch (c->state) {
	case CONN_WAKEUP:
	case CONN_REQUEST:
		if (c->requests == 0 || c->rx_bytes > 0)
			log_request(c->peer, "-", "-", "dropped", 0,
				    "no complete request before the deadline");
		else
			log_debug("%s: idle after %u requests, closing", c->peer, c->requests);
		break;
	case CONN_SENDING:
		log_request(c->peer, client_name(c), "-", "dropped", 0,
			    "response not taken before the deadline");
		break;
	case CONN_RUNNING:
		return 0; /* not armed while running */
	case CONN_DRAIN:
		break;
	}
	conn_free(c);
	return 0;
}

static void conn_new(struct daemon *d, int fd, const struct sockaddr_storage *ss)
{
	struct config *cfg = d->config;
	struct source_key key;
	char peer[80];
	struct ucred cred = { .uid = (uid_t)-1 };
	socklen_t clen = sizeof(cred);
	struct conn *c;

	if (ss->ss_family == AF_UNIX)
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen);
	source_key_from_peer(ss, cred.uid, &key, peer, sizeof(peer));
	if (limiter_conn_open(d->limits, &key, cfg->max_connections,
			     cfg->max_connections_per_source) < 0) {
		log_debug("%s: connection limit reached, closed", peer);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		limiter_conn_close(d->limits, &key);
		close(fd);
		return;
	}
	c->d = d;
	c->cfg = config_ref(cfg);
	c->fd = fd;
	c->src = key;
	memcpy(c->peer, peer, sizeof(peer));
	c->next = d->conns;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	d->n_conns++;
	if (sd_event_add_io(d->event, &c->io, fd, EPOLLIN, on_io, c) < 0 ||
	    sd_event_add_time_relative(d->event, &c->timer, CLOCK_MONOTONIC, timeout_usec(c), 0,
				       on_deadline, c) < 0) {
		log_error("%s: cannot watch the connection", peer);
		conn_free(c);
		return;
	}
	log_debug("%s: connected", peer);
	if (cfg->params.wakeup_length > 0) {
		c->state = CONN_WAKEUP; /* the first deadline covers the wake-up */
		return;
	}
	c->state = CONN_REQUEST;
	if (queue_hello(c))
		flush(c);
}

int conn_on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn(errno, "accept");
			break;
		}
		conn_new(d, cfd, &ss);
	}
	return 0;
}

void conn_close_idle(struct daemon *d)
{
	struct conn *c = d->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->state != CONN_RUNNING && c->state != CONN_SENDING)
			conn_free(c);
	}
}
