/* SPDX-License-Identifier: MIT */
/* Stream sockets: accepting connections, and the cap on how many are open. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_internal.h"
#include "usec.h"

void conn_accept_resume(struct daemon *d)
{
	if (!d->accept_paused)
		return;
	d->accept_paused = false;
	d->accept_retry = sd_event_source_disable_unref(d->accept_retry);
	for (size_t i = 0; i < d->n_listen; i++)
		sd_event_source_set_enabled(d->listen_src[i], SD_EVENT_ON);
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	conn_accept_resume(userdata);
	return 0;
}

/* accept() ran out of file descriptors: the pending connection would make
 * the listening socket readable forever, so stop watching it until a
 * connection closes, with a retry after a second in case none is open. */
static void pause_accepting(struct daemon *d, int err)
{
	uint64_t now = 0;

	sd_event_now(d->event, CLOCK_MONOTONIC, &now);
	d->accept_pauses++;
	if (!d->accept_pause_logged || now - d->accept_pause_logged >= 60 * USEC_PER_SEC) {
		errno = err;
		log_warn("cannot accept connections (%u time(s) since the last such line): not "
			 "accepting until a connection closes (size max_connections and LimitNOFILE= "
			 "together; see siot.conf(5))",
			 d->accept_pauses);
		d->accept_pause_logged = now ? now : 1;
		d->accept_pauses = 0;
	}
	d->accept_paused = true;
	for (size_t i = 0; i < d->n_listen; i++)
		sd_event_source_set_enabled(d->listen_src[i], SD_EVENT_OFF);
	if (sd_event_add_time_relative(d->event, &d->accept_retry, CLOCK_MONOTONIC, USEC_PER_SEC,
				       ACCURACY_NETWORK_USEC, on_accept_retry, d) < 0)
		conn_accept_resume(d); /* cannot wait: try again at once rather than never */
}

/*
 * At max_connections, make room for a new connection: close the oldest one
 * that has not sent a complete request yet, from the source that holds the
 * most connections (so idle connections cannot keep everyone else out, and
 * a source churning many of them loses its own first; a connection running
 * an action, answering, or kept open between requests is never chosen).
 * True when one was closed.
 */
static bool evict_waiting(struct daemon *d, const char *for_peer)
{
	struct conn *victim = NULL;
	unsigned victim_conns = 0;
	struct list_node *n;

	/* d->conns has the newest first: from the back, the oldest wins ties. */
	for (n = d->conns.prev; n != &d->conns; n = n->prev) {
		struct conn *c = list_entry(n, struct conn, node);
		unsigned conns;

		if (c->mqtt || c->requests > 0 ||
		    (c->state != CONN_WAKEUP && c->state != CONN_REQUEST))
			continue;
		conns = limiter_conns_of(d->limits, &c->src);
		if (!victim || conns > victim_conns) {
			victim = c;
			victim_conns = conns;
		}
	}
	if (!victim)
		return false;
	conn_log_dropped(victim, "dropped",
		    "no complete request yet, closed for a new connection at max_connections");
	log_debug("%s: in its place: %s", victim->peer, for_peer);
	conn_finish(victim, -ENOSPC);
	return true;
}

static void conn_new(struct daemon *d, int fd, const struct sockaddr_storage *ss)
{
	struct config *cfg = d->config;
	struct ucred cred = { .uid = (uid_t)-1 };
	socklen_t clen = sizeof(cred);
	struct source_key key;
	uint64_t now = 0;
	char peer[80];
	struct conn *c;
	int r;

	if (ss->ss_family == AF_UNIX)
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen);
	source_key_from_sockaddr(ss, cred.uid, &key);
	log_format_peer(ss, cred.uid, peer, sizeof(peer));
	sd_event_now(d->event, CLOCK_MONOTONIC, &now);
	r = limiter_conn_open(d->limits, &key, cfg->max_connections,
			      cfg->max_connections_per_source, now);
	if (r == -ENOSPC && evict_waiting(d, peer))
		r = limiter_conn_open(d->limits, &key, cfg->max_connections,
				      cfg->max_connections_per_source, now);
	if (r < 0) {
		log_debug("%s: connection limit reached, closed", peer);
		close(fd);
		return;
	}
	c = conn_alloc(d);
	if (!c) {
		limiter_conn_close(d->limits, &key);
		close(fd);
		return;
	}
	c->fd = fd;
	c->src = key;
	net_addr_from_sockaddr(ss, &c->addr);
	c->ss = *ss;
	c->uid = cred.uid;
	memcpy(c->peer, peer, sizeof(peer));
	conn_finish(c, conn_start(c));
}

/* One connection per wake-up: the listening socket is level-triggered, so a
 * queue of them is taken one per loop iteration, between the events of the
 * connections already open, and the accept4 that would only say EAGAIN is
 * never made. */
int conn_on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int cfd;

	(void)s;
	(void)revents;
	cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd >= 0)
		conn_new(d, cfd, &ss);
	else if (errno == EMFILE || errno == ENFILE)
		pause_accepting(d, errno);
	else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		log_warn("accept");
	return 0;
}

