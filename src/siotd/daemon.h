/* SPDX-License-Identifier: MIT */
/* The daemon's shared state: one event loop, the current config, limits. */
#ifndef SIOTD_DAEMON_H
#define SIOTD_DAEMON_H

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "limiter.h"
#include "listen.h"

struct conn;

struct daemon {
	sd_event *event;
	struct config *config;      /* current; connections keep their own ref */
	const char *config_path;
	struct limiter *limits;
	int listen_fds[LISTEN_MAX_FDS];
	sd_event_source *listen_src[LISTEN_MAX_FDS];
	size_t n_listen;
	struct conn *conns;         /* every open connection */
	unsigned n_conns;
	bool stopping;
};

/* Accept what is pending on a listening socket (an sd-event io callback). */
int conn_on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata);
/* Close every connection that is not waiting for an action (shutdown). */
void conn_close_idle(struct daemon *d);
/* Called by conn when a connection ends; main uses it to finish a stop. */
void daemon_conn_closed(struct daemon *d);

#endif
