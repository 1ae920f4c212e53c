/* SPDX-License-Identifier: MIT */
/*
 * Connections: the transport of one exchange after another on an accepted
 * stream socket.
 *
 *   wake-up -> HELLO -> request -> (decision) -> action -> response
 *   -> (next HELLO | shutdown, drain, close)
 *
 * with a deadline for each request that starts when its HELLO is sent.  What
 * a request gets is decided by request.c; conn.c moves bytes, keeps the
 * deadline, applies the decision (limiter, action) and logs the one line.
 * Connections live in the daemon's list (struct daemon) and are freed in
 * one place, when a handler returns an error or the connection ends.
 */
#ifndef SIOTD_CONN_H
#define SIOTD_CONN_H

#include <stdint.h>

#include <systemd/sd-event.h>

struct daemon;

/* The daemon's one timer for every connection's deadline (d->deadlines),
 * made off; 0 or a negative errno. */
int conn_deadlines_init(struct daemon *d);

/* Accept what is pending on a listening socket (an sd-event io callback;
 * userdata is the struct daemon). */
int conn_on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* Close every connection that is not waiting for an action or writing its
 * response (shutdown). */
void conn_close_idle(struct daemon *d);

#endif
