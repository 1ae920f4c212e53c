/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets: inherited from systemd (socket activation), each
 * checked to be a listening stream socket of AF_INET, AF_INET6 or AF_UNIX,
 * anything else closed; or opened here from ListenStream=-style strings:
 * "7468" (every address, dual-stack), "127.0.0.1:7468", "[::1]:7468",
 * "garage.local:7468" (resolved once) and Unix socket paths
 * ("/run/siot.sock" or "unix:/run/siot.sock").
 */
#ifndef SIOTD_LISTEN_H
#define SIOTD_LISTEN_H

#include <stddef.h>

#define LISTEN_MAX_FDS 16

/* Take the sockets systemd passed (and unset $LISTEN_*).  Fills fds and
 * returns how many are usable (0 when none were passed), or a negative
 * errno; *passed is how many systemd passed.  Logs each socket it refuses. */
int listen_from_systemd(int *fds, size_t max, int *passed);

/* Open one listening socket for spec.  Returns the fd, or a negative errno
 * with a message in err. */
int listen_open(const char *spec, char *err, size_t errlen);

#endif
