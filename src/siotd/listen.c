/* SPDX-License-Identifier: MIT */
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"

#define LISTEN_BACKLOG 128

int listen_from_systemd(int *fds, size_t max)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);
	size_t k = 0;

	if (n < 0) {
		errno = -n;
		log_warn("cannot read the sockets systemd passed");
		return n;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "?";
		bool ok = (sd_is_socket(fd, AF_INET, SOCK_STREAM, 1) > 0 ||
			   sd_is_socket(fd, AF_INET6, SOCK_STREAM, 1) > 0 ||
			   sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) > 0);

		if (!ok || k == max) {
			log_warnx("closing inherited fd %d (%s): %s", fd, name,
				  ok ? "too many sockets" : "not a listening stream socket");
			close(fd);
			continue;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		fds[k++] = fd;
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	return (int)k;
}

static int open_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	/* A stale socket from an earlier run is replaced; any other file is not. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

int listen_open(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char host[128];
	const char *port, *colon;
	int fd, r, one = 1, zero = 0;

	if (strncmp(spec, "unix:", 5) == 0)
		return open_unix(spec + 5, err, errlen);
	if (spec[0] == '/')
		return open_unix(spec, err, errlen);

	if (spec[0] == '[') {
		const char *close_br = strchr(spec, ']');
		if (!close_br || close_br[1] != ':' || (size_t)(close_br - spec - 1) >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, (size_t)(close_br - spec - 1));
		host[close_br - spec - 1] = '\0';
		port = close_br + 2;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof(host))
			goto bad;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port = colon + 1;
	}
	if (!*port || strspn(port, "0123456789") != strlen(port))
		goto bad;
	r = getaddrinfo(*host && strcmp(host, "*") ? host : NULL, port, &hints, &ai);
	if (r != 0) {
		snprintf(err, errlen, "%s: %s", spec, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto sys_fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6) /* "[::]" takes IPv4 too */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto sys_fail;
	freeaddrinfo(ai);
	return fd;

sys_fail:
	r = -errno;
	snprintf(err, errlen, "%s: %s", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return r;
bad:
	snprintf(err, errlen, "%s: expected ADDRESS:PORT, [IPV6]:PORT or a Unix socket path", spec);
	return -EINVAL;
}
