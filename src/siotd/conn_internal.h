/* SPDX-License-Identifier: MIT */
/*
 * Inside the connection module: struct conn, shared by conn.c (one exchange
 * after another, whatever carries the bytes), conn_accept.c (stream sockets:
 * accepting, the connection cap) and mqtt.c (sessions through a broker).
 * Nothing else includes this.
 */
#ifndef SIOTD_CONN_INTERNAL_H
#define SIOTD_CONN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"
#include "daemon.h"
#include "request.h"

struct mqtt_session;

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
	int fd;                   /* -1 for an MQTT session */
	sd_event_source *io;      /* NULL for an MQTT session */
	uint64_t deadline;        /* CLOCK_MONOTONIC usec, 0 none (d->deadlines) */
	struct source_key src;
	struct net_addr addr;    /* the peer's address in full, for clients' from lists */
	struct sockaddr_storage ss;
	uid_t uid;                /* a Unix-socket peer's */
	char peer[80];
	char source[64];          /* the peer without its port, for log summaries; "" until needed */
	enum conn_state state;
	unsigned wake_have;
	unsigned requests;        /* requests answered so far */
	size_t rx_bytes;          /* bytes of the current request read so far */
	bool close_after_send;
	struct request_decision decision; /* for the current request */
	uint64_t request_time;    /* when the request was complete */
	size_t out_len, out_off;
	size_t out_mark;          /* where the last queued HELLO starts in out (MQTT sends
				   * each protocol message as a message of its own) */
	struct mqtt_session *mqtt; /* the session, when this came through the broker */
	struct list_node node;    /* in d->conns */
	/* The large parts last: conn_new zeroes only what comes before them. */
	struct siot_exchange ex;
	uint8_t out[SIOT_MAX_RESPONSE + SIOT_MAX_HELLO];
};

/* A new connection in d's list, zeroed up to its exchange, with a
 * reference to the current config; NULL when out of memory. */
struct conn *conn_alloc(struct daemon *d);

/* The one place a connection is freed. */
void conn_free(struct conn *c);

/* Every entry point ends here: a negative r ends the connection. */
void conn_finish(struct conn *c, int r);

/* The first step of a new connection or session: its deadline, then the
 * wake-up wait or the HELLO. */
int conn_start(struct conn *c);

/* A line about a connection with no verified request (summarised per
 * source). */
void conn_log_dropped(struct conn *c, const char *outcome, const char *note);

/* A whole request from an MQTT session's message: as bytes read from a
 * socket, except that a message shorter than a request is malformed. */
int conn_feed_message(struct conn *c, const uint8_t *buf, size_t n);

/* Accepting again, after a connection closed (conn_accept.c). */
void conn_accept_resume(struct daemon *d);

#endif
