/* SPDX-License-Identifier: MIT */
/*
 * Inside the connection module: struct conn, shared by conn.c (the
 * exchanges) and conn_stream.c (the stream transport: the socket, its
 * watch, the connection caps).  The MQTT transport and everything else
 * use conn.h's functions instead.
 */
#ifndef SIOTD_CONN_INTERNAL_H
#define SIOTD_CONN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"
#include "daemon.h"
#include "request.h"

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
	const struct conn_transport *t;
	void *t_data;             /* the transport's own */
	int fd;                   /* a stream's socket, else -1 (conn_stream.c) */
	sd_event_source *io;      /* its watch (conn_stream.c) */
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
	size_t out_mark;          /* where the last queued HELLO starts in out (a
				   * transport that frames messages sends each
				   * protocol message as a message of its own) */
	struct list_node node;    /* in d->conns */
	/* The large parts last: conn_new zeroes only what comes before them. */
	struct siot_exchange ex;
	uint8_t out[SIOT_MAX_RESPONSE + SIOT_MAX_HELLO];
};

#endif
