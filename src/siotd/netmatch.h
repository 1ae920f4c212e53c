/* SPDX-License-Identifier: MIT */
/*
 * Where a client may connect from (a client's `from` list, as ssh's from=
 * and fwknop's SOURCE): IPv4 and IPv6 networks in CIDR form, single
 * addresses, and "unix" for the Unix socket.  An IPv4 peer reaching a
 * dual-stack socket (::ffff:a.b.c.d) is matched as the IPv4 address.
 */
#ifndef SIOTD_NETMATCH_H
#define SIOTD_NETMATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NETMATCH_MAX_RULES 64

/* The family of requests that came through the MQTT broker: no address, and
 * matched only by "mqtt" (beside AF_INET, AF_INET6 and AF_UNIX). */
#define NET_FAMILY_MQTT (AF_MAX + 1)

/* One peer's address, in full (the limiter's source key is a /64). */
struct net_addr {
	int family; /* AF_INET, AF_INET6 or AF_UNIX */
	uint8_t addr[16];
};

struct net_rule {
	int family; /* AF_INET, AF_INET6, or AF_UNIX for "unix" */
	uint8_t addr[16];
	unsigned prefix;
};

/* "192.168.1.0/24", "fd00::/8", "10.0.0.7", "::1", "unix", "mqtt".  Returns 0, or
 * -EINVAL with what is wrong in err (host bits set below the prefix are
 * refused, with the network that was probably meant). */
int net_rule_parse(const char *text, struct net_rule *rule, char *err, size_t errlen);

void net_addr_from_sockaddr(const struct sockaddr_storage *ss, struct net_addr *out);

/* Whether addr is in one of rules[0..n). */
bool net_rules_match(const struct net_rule *rules, size_t n, const struct net_addr *addr);

#endif
