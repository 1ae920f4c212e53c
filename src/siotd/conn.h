/* SPDX-License-Identifier: MIT */
/*
 * Connections: one exchange after another, whatever carries the bytes.
 *
 *   (wake-up) -> HELLO -> request -> (decision) -> action -> response
 *   -> (next HELLO | shutdown, drain, close)
 *
 * with a deadline for each request that starts when its HELLO is sent.
 * What a request gets is decided by request.c; conn.c keeps the deadline,
 * applies the decision (limiter, action), logs the one line, and moves
 * bytes through the connection's transport: a struct conn_transport that
 * the stream sockets (conn_stream.c) and the MQTT sessions (mqtt.c) each
 * implement.  conn.c knows no transport but through that table, and a
 * transport knows a connection only through the functions below.
 *
 * Connections live in the daemon's list (struct daemon) and are freed in
 * one place, conn_finish with a negative value, which ends with the
 * transport's release.
 */
#ifndef SIOTD_CONN_H
#define SIOTD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "limiter.h"
#include "netmatch.h"

struct conn;
struct daemon;

/* What carries a connection's bytes.  Every function is called on the
 * loop, for a connection of this transport. */
struct conn_transport {
	/* Whether a connection starts with the wake-up bytes (when the config
	 * has any), before its first HELLO. */
	bool wakeup;
	/* Take up to len bytes of queued output: one protocol message, or a
	 * response and then the next HELLO.  mark is where the HELLO starts
	 * (len when there is none, 0 when the response is out already); a
	 * transport that frames messages sends each on its own.  Returns the
	 * bytes taken,
	 * or a negative errno to end the connection.  After taking fewer than
	 * len, the transport calls conn_writable once it can take more. */
	ssize_t (*send)(struct conn *c, const uint8_t *buf, size_t len, size_t mark);
	/* Deliver received bytes (true) or none (false: while an action
	 * runs).  NULL when the transport delivers whole messages anyway. */
	void (*receive)(struct conn *c, bool on);
	/* The response is out and the connection ends: shut the sending side
	 * down and return 0 to drain (read until EOF or a second), or return
	 * a negative errno to end the connection now. */
	int (*shutdown)(struct conn *c);
	/* Whether bytes came that were not asked for yet. */
	bool (*early)(const struct conn *c);
	/* The transport's part of freeing a connection; the last call it gets. */
	void (*release)(struct conn *c);
	/* The session's name for log lines, or NULL when it has none. */
	const char *(*name)(const struct conn *c);
};

/* Who is at the other end of a new connection. */
struct conn_origin {
	struct source_key src;        /* the limiter's source */
	struct net_addr addr;         /* for clients' from lists */
	const struct sockaddr_storage *ss; /* the peer's socket address, or NULL */
	uid_t uid;                    /* a Unix-socket peer's, or (uid_t)-1 */
	const char *peer;             /* the name in log lines */
	const char *source;           /* the name in log summaries; NULL: made
				       * from ss when first needed */
};

/* A new connection on t, in d's list, with a reference to the current
 * config; data is the transport's own (conn_transport_data).  NULL when out
 * of memory.  Then conn_start, and conn_finish with what it returned. */
struct conn *conn_new(struct daemon *d, const struct conn_transport *t, void *data,
		      const struct conn_origin *origin);

/* The first step of a new connection: its deadline, then the wake-up wait
 * or the HELLO.  0, or a negative errno. */
int conn_start(struct conn *c);

/* Every entry point ends here: a negative r frees the connection (the one
 * place that does). */
void conn_finish(struct conn *c, int r);

/* The transport's own data, as given to conn_new. */
void *conn_transport_data(const struct conn *c);

/* The peer's name in log lines. */
const char *conn_peer(const struct conn *c);

/* Whether the connection has sent nothing yet and waits for its first
 * request: what makes way for a new one when the transport is full. */
bool conn_awaits_request(const struct conn *c);

/* Whether its HELLO is out and a request may come now. */
bool conn_wants_request(const struct conn *c);

/* Bytes for the connection, as read from a stream: n == 0 is the end of
 * the stream.  A value for conn_finish. */
int conn_received(struct conn *c, const uint8_t *buf, size_t n);

/* How many bytes conn_received may take now (at most max), so that a
 * stream is never read past one request. */
size_t conn_read_size(const struct conn *c, size_t max);

/* A whole request as one message (MQTT): as conn_received, except that a
 * message shorter than a request is malformed.  A value for conn_finish. */
int conn_feed_message(struct conn *c, const uint8_t *buf, size_t n);

/* The transport can take more of the queued output.  A value for
 * conn_finish. */
int conn_writable(struct conn *c);

/* A line about a connection with no verified request (summarised per
 * source). */
void conn_log_dropped(struct conn *c, const char *outcome, const char *note);

/* The daemon's one timer for every connection's deadline (d->deadlines),
 * made off; 0 or a negative errno. */
int conn_deadlines_init(struct daemon *d);

/* Close every connection that is not waiting for an action or writing its
 * response (shutdown). */
void conn_close_idle(struct daemon *d);

#endif
