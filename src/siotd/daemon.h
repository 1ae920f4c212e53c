/* SPDX-License-Identifier: MIT */
/*
 * The daemon's state, all of it in one place: the event loop, the current
 * config, the limiter, the held GPIO lines, the running actions, the log's
 * state, the listening sockets and the open connections.  daemon.c makes it
 * and takes it down; the modules it owns get what they need from it.
 */
#ifndef SIOTD_DAEMON_H
#define SIOTD_DAEMON_H

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "action.h"
#include "config.h"
#include "gpio.h"
#include "limiter.h"
#include "list.h"
#include "listen.h"
#include "log.h"
#include "randpool.h"

struct daemon {
	sd_event *event;
	struct config *config;      /* current; connections keep their own ref */
	const char *config_path;
	struct limiter *limits;
	struct gpio_registry *gpio;
	struct cgroups cg;          /* scripts' cgroups, when systemd delegated one */
	struct actions actions;
	struct log_state log;
	int listen_fds[LISTEN_MAX_FDS];
	sd_event_source *listen_src[LISTEN_MAX_FDS];
	size_t n_listen;
	struct list_node conns;     /* every open connection (conn.c) */
	unsigned n_conns;
	/* One timer for every connection's deadline, set to the earliest one
	 * when a new deadline comes before it; deadlines that no longer apply
	 * are dropped when it fires (conn.c). */
	sd_event_source *deadlines;
	struct mqtt *mqtt;          /* sessions through a broker (mqtt.c), or NULL */
	uint64_t deadline_at;       /* when it fires, 0 when off */
	struct randpool challenges; /* HELLO challenge bytes */
	/* Out of file descriptors: accepting pauses until a connection closes
	 * (or a second passes); logged at most once a minute (conn.c). */
	bool accept_paused;
	uint64_t accept_pause_logged;   /* when, 0 never */
	unsigned accept_pauses;         /* since that line */
	sd_event_source *accept_retry;
	sd_event_source *stop_check; /* while stopping: exits when nothing is left */
	sd_event_source *log_flush;  /* writes the log's due summaries, every 2 s */
	bool stopping;
};

/* What daemon_init is told by the command line. */
struct daemon_settings {
	const char *config_path;
	const char *const *listen; /* --listen addresses (n_listen of them) */
	size_t n_listen;
	bool debug;
};

/* Make everything d owns, in order: the config (refused when it has a
 * problem), the GPIO lines, the listening sockets (systemd's, else --listen,
 * else the config's), the limiter, the loop and its sources, the broker's
 * client.  0, or a negative errno after the lines that say why; either way
 * daemon_finish takes down what was made. */
int daemon_init(struct daemon *d, const struct daemon_settings *s);

/* The mirror of daemon_init, after the loop (or a failed init). */
void daemon_finish(struct daemon *d);

/* Say that the daemon is ready: the log line, READY=1 and STATUS=. */
void daemon_ready(const struct daemon *d, const char *version);

/* STATUS= for systemd: what is served, and the broker's state. */
void daemon_notify_status(const struct daemon *d);

#endif
