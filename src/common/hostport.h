/* SPDX-License-Identifier: MIT */
/*
 * One address syntax for siotd's listen addresses and siot-ctl's -H:
 *
 *   HOST:PORT     a name, an IPv4 address, or "*" (all addresses), and a port
 *   [IPV6]:PORT   an IPv6 address in brackets, and a port
 *   [IPV6]        the same without a port
 *   IPV6          a bare IPv6 address (two colons or more), without a port
 *   HOST          a name or IPv4 address without a port
 *
 * Unix socket paths (starting with '/') and a bare PORT (digits only) are
 * the callers' to recognise first, as only siotd accepts them.
 */
#ifndef SIOT_HOSTPORT_H
#define SIOT_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>

/* Split spec into host (without brackets) and port ("" when there is none).
 * Returns 0, or -EINVAL with a message in err when spec is malformed: empty
 * host, unclosed bracket, junk after it, or a port that is not 1..65535. */
int hostport_split(const char *spec, char *host, size_t host_len, char *port, size_t port_len,
		   char *err, size_t errlen);

/* Whether s is a port number 1..65535 written in decimal digits only. */
int hostport_is_port(const char *s);

/* An MQTT broker's URL, "mqtt://HOST[:PORT]" or "mqtts://HOST[:PORT]"
 * (HOST as above; 1883 and 8883 by default): host, port and whether it is
 * TLS.  Returns 0, or -EINVAL with a message in err (user names, passwords
 * and paths in the URL are refused: they have settings of their own). */
int hostport_mqtt_url(const char *url, char *host, size_t host_len, int *port, bool *tls,
		      char *err, size_t errlen);

#endif
