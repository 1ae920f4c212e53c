/* SPDX-License-Identifier: MIT */
#include "hostport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hostport_is_port(const char *s)
{
	size_t n = strlen(s);
	unsigned long v;

	if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
		return 0;
	v = strtoul(s, NULL, 10);
	return v >= 1 && v <= 65535;
}

static int copy(char *dst, size_t len, const char *src, size_t n)
{
	if (n >= len)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int hostport_split(const char *spec, char *host, size_t host_len, char *port, size_t port_len,
		   char *err, size_t errlen)
{
	const char *p = "", *colon;
	size_t hn;

	if (spec[0] == '[') {
		const char *close_br = strchr(spec, ']');

		if (!close_br) {
			snprintf(err, errlen, "\"%s\": no closing ']'", spec);
			return -EINVAL;
		}
		if (close_br[1] == ':')
			p = close_br + 2;
		else if (close_br[1] != '\0') {
			snprintf(err, errlen, "\"%s\": expected ':PORT' after ']'", spec);
			return -EINVAL;
		}
		spec++;
		hn = (size_t)(close_br - spec);
		if (close_br[1] == ':' && !*p) {
			snprintf(err, errlen, "\"%s]:\": the port is missing", spec - 1);
			return -EINVAL;
		}
	} else if ((colon = strchr(spec, ':')) && !strchr(colon + 1, ':')) {
		hn = (size_t)(colon - spec); /* one colon: HOST:PORT */
		p = colon + 1;
		if (!*p) {
			snprintf(err, errlen, "\"%s\": the port is missing", spec);
			return -EINVAL;
		}
	} else {
		hn = strlen(spec); /* no colon, or a bare IPv6 address */
	}
	if (hn == 0) {
		snprintf(err, errlen, "\"%s\": the host is missing", spec);
		return -EINVAL;
	}
	if (*p && !hostport_is_port(p)) {
		snprintf(err, errlen, "\"%s\": port \"%s\" is not a number from 1 to 65535", spec, p);
		return -EINVAL;
	}
	if (copy(host, host_len, spec, hn) < 0 || copy(port, port_len, p, strlen(p)) < 0) {
		snprintf(err, errlen, "\"%s\": too long", spec);
		return -EINVAL;
	}
	return 0;
}

int hostport_mqtt_url(const char *url, char *host, size_t host_len, int *port, bool *tls,
		      char *err, size_t errlen)
{
	const char *rest;
	char p[8], why[300];

	if (strncmp(url, "mqtt://", 7) == 0) {
		rest = url + 7;
		*tls = false;
	} else if (strncmp(url, "mqtts://", 8) == 0) {
		rest = url + 8;
		*tls = true;
	} else {
		snprintf(err, errlen, "\"%s\": give mqtt://HOST[:PORT] or mqtts://HOST[:PORT]", url);
		return -EINVAL;
	}
	if (strpbrk(rest, "/@?#")) {
		snprintf(err, errlen,
			 "\"%s\": only a host and a port (the user name and password have settings "
			 "of their own)",
			 url);
		return -EINVAL;
	}
	if (hostport_split(rest, host, host_len, p, sizeof(p), why, sizeof(why)) < 0) {
		snprintf(err, errlen, "\"%s\": %s", url, why);
		return -EINVAL;
	}
	*port = p[0] ? atoi(p) : *tls ? 8883 : 1883;
	return 0;
}
