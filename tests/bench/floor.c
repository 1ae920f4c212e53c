/* SPDX-License-Identifier: MIT */
/*
 * siot-bench-floor PORT HELLO REQUEST RESPONSE: the bare exchange served
 * the way siotd must serve it, with none of siotd's own work.  Prints
 * "ready" when it listens on 127.0.0.1:PORT.  A program of its own, so that
 * siot-bench's bare one-shot client does not load libsystemd.
 *
 * It is event-driven on sd-event (siotd's chosen loop), and per connection
 * it makes the calls PROTOCOL.md and the brief require of any siot server:
 * a non-blocking accept4 and an I/O source; a MSG_PEEK for bytes sent
 * before the HELLO; the HELLO; the request read when it is readable; one
 * log line to stderr, named and written by siotd's own log.c; the response;
 * shutdown(SHUT_WR) and a drain to EOF; then the source's removal and
 * close.  No crypto, no config, no GPIO, no deadline timer (siotd's is
 * shared and rarely moves).
 *
 * Its CPU per request, next to the bare server's and siotd's, splits
 * siotd's cost into what the protocol and the event loop take and what
 * siotd itself adds.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "bench.h"
#include "log.h"

struct floor_conn {
	int fd;
	bool draining;
	size_t got;
	const struct sizes *sz;
	sd_event_source *io;
	char peer[80]; /* as siotd names it (log_format_peer) */
};

static const uint8_t zeros[4096];

static void floor_close(struct floor_conn *c)
{
	sd_event_source_disable_unref(c->io);
	close(c->fd);
	free(c);
}

static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct floor_conn *c = userdata;
	uint8_t buf[4096];
	ssize_t n;

	(void)s;
	(void)revents;
	if (c->draining) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0 || (n < 0 && errno == EAGAIN))
			return 0;
		floor_close(c); /* EOF (or an error): done */
		return 0;
	}
	n = recv(fd, buf, c->sz->request - c->got, MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		floor_close(c);
		return 0;
	}
	c->got += (size_t)n;
	if (c->got < c->sz->request)
		return 0;
	log_request(&(struct log_line){ .peer = c->peer, .client = "bench", .command = "toggle",
					.outcome = "ok", .key = "SHA256:-" });
	if (send(fd, zeros, c->sz->response, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)c->sz->response) {
		floor_close(c);
		return 0;
	}
	shutdown(fd, SHUT_WR);
	c->draining = true;
	return 0;
}

static int on_listen(sd_event_source *s, int lfd, uint32_t revents, void *userdata)
{
	const struct sizes *sz = userdata;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct floor_conn *c;
	uint8_t b;
	int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)revents;
	if (fd < 0)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c || sd_event_add_io(sd_event_source_get_event(s), &c->io, fd, EPOLLIN, on_conn, c) < 0) {
		free(c);
		close(fd);
		return 0;
	}
	c->fd = fd;
	c->sz = sz;
	log_format_peer(&ss, (uid_t)-1, c->peer, sizeof(c->peer));
	if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0 ||
	    send(fd, zeros, sz->hello, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sz->hello)
		floor_close(c); /* bytes before the HELLO, or a HELLO not sent whole */
	return 0;
}

int main(int argc, char **argv)
{
	struct sizes sz;
	sd_event *e = NULL;
	int r, lfd;

	if (argc != 5)
		die("usage: siot-bench-floor PORT HELLO REQUEST RESPONSE");
	sz = (struct sizes){ parse_uint(argv[2], sizeof(zeros)), parse_uint(argv[3], sizeof(zeros)),
			     parse_uint(argv[4], sizeof(zeros)) };
	lfd = listen_loopback(parse_uint(argv[1], 65535));
	/* sd_event_new(), as siotd: sd_event_default() checks its thread
	 * with a gettid() on every iteration. */
	if ((r = sd_event_new(&e)) < 0 ||
	    (r = sd_event_add_io(e, NULL, lfd, EPOLLIN, on_listen, &sz)) < 0 ||
	    (r = sd_event_loop(e)) < 0)
		die("the event loop failed: %s", strerror(-r));
	return 0;
}
