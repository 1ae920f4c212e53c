/* SPDX-License-Identifier: MIT */
/*
 * The stream transport: connections accepted on listening sockets (TCP or
 * Unix), each a struct conn whose bytes go through its socket.  It owns
 * what only a socket has: closing it, the per-source connection caps and
 * max_connections, and pausing accept() when file descriptors run out.
 */
#ifndef SIOTD_CONN_STREAM_H
#define SIOTD_CONN_STREAM_H

#include <stdint.h>

#include <systemd/sd-event.h>

/* Accept what is pending on a listening socket (an sd-event io callback;
 * userdata is the struct daemon). */
int conn_stream_on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata);

#endif
