/* SPDX-License-Identifier: MIT */
/* The stream transport: accepted sockets, their watch, and the caps on how
 * many are open. */
#include "conn_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_internal.h"
#include "usec.h"

static void accept_resume(struct daemon *d)
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
	accept_resume(userdata);
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
		accept_resume(d); /* cannot wait: try again at once rather than never */
}

/* ---- the transport ---------------------------------------------------- */

static void watch(struct conn *c, uint32_t events)
{
	sd_event_source_set_io_events(c->io, events);
	sd_event_source_set_enabled(c->io, events ? SD_EVENT_ON : SD_EVENT_OFF);
}

static ssize_t stream_send(struct conn *c, const uint8_t *buf, size_t len, size_t mark)
{
	ssize_t n;

	(void)mark; /* a stream needs no message boundaries */
	do
		n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		n = 0;
	else if (n <= 0) {
		log_debug("%s: write failed: %s", c->peer, strerror(errno));
		return -EPIPE;
	}
	if ((size_t)n < len)
		watch(c, EPOLLOUT); /* the rest when the socket can take it */
	return n;
}

static void stream_receive(struct conn *c, bool on)
{
	watch(c, on ? EPOLLIN : 0);
}

static int stream_shutdown(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
	return 0;
}

static bool stream_early(const struct conn *c)
{
	uint8_t b;

	return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

static void stream_release(struct conn *c)
{
	struct daemon *d = c->d;

	c->io = sd_event_source_disable_unref(c->io);
	if (c->fd >= 0)
		close(c->fd);
	limiter_conn_close(d->limits, &c->src);
	accept_resume(d); /* a file descriptor is free again */
}

static const struct conn_transport stream_transport = {
	.wakeup = true,
	.send = stream_send,
	.receive = stream_receive,
	.shutdown = stream_shutdown,
	.early = stream_early,
	.release = stream_release,
	.name = NULL,
};

static int on_readable(struct conn *c)
{
	uint8_t buf[512];
	ssize_t n = recv(c->fd, buf, conn_read_size(c, sizeof(buf)), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return conn_received(c, buf, n < 0 ? 0 : (size_t)n); /* an error ends it as EOF does */
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *c = userdata;

	(void)s;
	(void)fd;
	if (revents & EPOLLOUT)
		conn_finish(c, conn_writable(c));
	else if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_finish(c, on_readable(c));
	return 0;
}

/* ---- accepting --------------------------------------------------------- */

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

		if (c->t != &stream_transport || !conn_awaits_request(c))
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

static void accept_one(struct daemon *d, int fd, const struct sockaddr_storage *ss)
{
	struct config *cfg = d->config;
	struct ucred cred = { .uid = (uid_t)-1 };
	socklen_t clen = sizeof(cred);
	struct source_key key;
	uint64_t now = 0;
	char peer[80];
	struct conn_origin origin = { .ss = ss, .peer = peer };
	struct conn *c;
	int r;

	if (ss->ss_family == AF_UNIX)
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen);
	source_key_from_sockaddr(ss, cred.uid, &key);
	origin.uid = cred.uid;
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
	origin.src = key;
	net_addr_from_sockaddr(ss, &origin.addr);
	c = conn_new(d, &stream_transport, NULL, &origin);
	if (!c) {
		limiter_conn_close(d->limits, &key);
		close(fd);
		return;
	}
	c->fd = fd; /* the connection's from here on: stream_release closes it */
	if (sd_event_add_io(d->event, &c->io, fd, EPOLLIN, on_io, c) < 0) {
		log_error("%s: cannot watch the connection", peer);
		conn_finish(c, -ENOMEM);
		return;
	}
	conn_finish(c, conn_start(c));
}

/* One connection per wake-up: the listening socket is level-triggered, so a
 * queue of them is taken one per loop iteration, between the events of the
 * connections already open, and the accept4 that would only say EAGAIN is
 * never made. */
int conn_stream_on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int cfd;

	(void)s;
	(void)revents;
	cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd >= 0)
		accept_one(d, cfd, &ss);
	else if (errno == EMFILE || errno == ENFILE)
		pause_accepting(d, errno);
	else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		log_warn("accept");
	return 0;
}

