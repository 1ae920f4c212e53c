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

#include "hostport.h"
#include "log.h"

#define LISTEN_BACKLOG 128

int listen_from_systemd(int *fds, size_t max, int *passed)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);
	size_t k = 0;

	*passed = n > 0 ? n : 0;
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
		/* Its start only: a path of any length must not overflow the
		 * message (gcc on 32-bit targets proves the bound). */
		snprintf(err, errlen, "%.60s...: socket path too long (%zu bytes; at most %zu)", path,
			 strlen(path), sizeof(sun.sun_path) - 1);
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

/* Bind and listen on the first address of ai; fd or -errno. */
static int open_inet(const char *spec, const struct addrinfo *ai, char *err, size_t errlen)
{
	int fd, r, one = 1, zero = 0;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6) /* "[::]:PORT" and "PORT" take IPv4 too */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	r = -errno;
	snprintf(err, errlen, "%s: %s", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

int listen_open(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char host[256], port[8], why[300];
	const char *node;
	int fd, r;

	if (strncmp(spec, "unix:", 5) == 0)
		return open_unix(spec + 5, err, errlen);
	if (spec[0] == '/')
		return open_unix(spec, err, errlen);

	if (hostport_is_port(spec)) {
		/* PORT alone, as ListenStream= takes it: every address, IPv6 and
		 * IPv4 on one socket, or IPv4 alone where there is no IPv6. */
		snprintf(port, sizeof(port), "%s", spec);
		hints.ai_family = AF_INET6;
		if (getaddrinfo(NULL, port, &hints, &ai) == 0) {
			fd = open_inet(spec, ai, err, errlen);
			freeaddrinfo(ai);
			if (fd != -EAFNOSUPPORT)
				return fd;
		}
		hints.ai_family = AF_INET;
		node = NULL;
	} else if (strspn(spec, "0123456789") == strlen(spec)) {
		snprintf(why, sizeof(why), "port \"%s\" is not a number from 1 to 65535", spec);
		goto bad;
	} else {
		if (hostport_split(spec, host, sizeof(host), port, sizeof(port), why, sizeof(why)) < 0)
			goto bad;
		if (!port[0]) {
			snprintf(why, sizeof(why), "\"%s\": the port is missing", spec);
			goto bad;
		}
		node = strcmp(host, "*") ? host : NULL;
	}
	r = getaddrinfo(node, port, &hints, &ai);
	if (r == EAI_NONAME && node) {
		/* Not a numeric address: a host name, resolved once, now. */
		hints.ai_flags &= ~AI_NUMERICHOST;
		r = getaddrinfo(node, port, &hints, &ai);
	}
	if (r != 0) {
		snprintf(err, errlen, "%s: %s", spec, r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -EINVAL;
	}
	fd = open_inet(spec, ai, err, errlen);
	freeaddrinfo(ai);
	return fd;
bad:
	snprintf(err, errlen,
		 "%s; a listen address is PORT, ADDRESS:PORT, HOST:PORT, [IPV6]:PORT or a Unix "
		 "socket path",
		 why);
	return -EINVAL;
}
