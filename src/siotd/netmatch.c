/* SPDX-License-Identifier: MIT */
#include "netmatch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether the first `prefix` bits of a and b are equal. */
static bool same_prefix(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

int net_rule_parse(const char *text, struct net_rule *rule, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN + 1], net[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max;
	uint8_t masked[16];

	memset(rule, 0, sizeof(*rule));
	if (strcmp(text, "unix") == 0) {
		rule->family = AF_UNIX;
		return 0;
	}
	if (strcmp(text, "mqtt") == 0) {
		rule->family = NET_FAMILY_MQTT;
		return 0;
	}
	if (n == 0 || n >= sizeof(addr)) {
		snprintf(err, errlen, "\"%s\" is not an address or network", text);
		return -EINVAL;
	}
	memcpy(addr, text, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, rule->addr) == 1) {
		rule->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, rule->addr) == 1) {
		rule->family = AF_INET6;
		max = 128;
	} else {
		snprintf(err, errlen,
			 "\"%s\" is not an address or network (such as 192.168.1.0/24, fd00::/8, "
			 "10.0.0.7, \"unix\" or \"mqtt\"; host names are not allowed)",
			 text);
		return -EINVAL;
	}
	rule->prefix = max;
	if (slash) {
		char *end;
		unsigned long p = strtoul(slash + 1, &end, 10);

		if (!slash[1] || *end || slash[1] == '-' || slash[1] == '+' || p > max) {
			snprintf(err, errlen, "\"%s\": the prefix length must be 0 .. %u", text, max);
			return -EINVAL;
		}
		rule->prefix = (unsigned)p;
	}
	/* Peers are compared as IPv4 when they are v4-mapped (a dual-stack
	 * socket's ::ffff:a.b.c.d), so such a rule is read as the IPv4 one it
	 * names: ::ffff:127.0.0.1 is 127.0.0.1, ::ffff:0:0/96 is 0.0.0.0/0. */
	if (rule->family == AF_INET6 && rule->prefix >= 96 &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)rule->addr)) {
		memmove(rule->addr, rule->addr + 12, 4);
		memset(rule->addr + 4, 0, 12);
		rule->family = AF_INET;
		rule->prefix -= 96;
		inet_ntop(AF_INET, rule->addr, addr, sizeof(addr));
	} else if (rule->family == AF_INET6 && rule->prefix < 96 &&
		   IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)rule->addr)) {
		snprintf(err, errlen,
			 "\"%s\": a v4-mapped network shorter than /96 matches no peer (peers are "
			 "compared as IPv4): give the IPv4 network, such as 0.0.0.0/0",
			 text);
		return -EINVAL;
	}
	/* 192.168.1.5/24 is a typo for a host or for its network: say which. */
	memset(masked, 0, sizeof(masked));
	memcpy(masked, rule->addr, rule->prefix / 8);
	if (rule->prefix % 8)
		masked[rule->prefix / 8] =
			(uint8_t)(rule->addr[rule->prefix / 8] & (0xff << (8 - rule->prefix % 8)));
	if (memcmp(masked, rule->addr, rule->family == AF_INET ? 4 : 16) != 0) {
		inet_ntop(rule->family, masked, net, sizeof(net));
		snprintf(err, errlen,
			 "\"%s\" has bits set past its /%u prefix: write %s/%u for the network, or "
			 "%s alone for the one address",
			 text, rule->prefix, net, rule->prefix, addr);
		return -EINVAL;
	}
	return 0;
}

void net_addr_from_sockaddr(const struct sockaddr_storage *ss, struct net_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (ss->ss_family == AF_INET) {
		out->family = AF_INET;
		memcpy(out->addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			out->family = AF_INET;
			memcpy(out->addr, a->s6_addr + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->addr, a->s6_addr, 16);
		}
	} else {
		out->family = AF_UNIX;
	}
}

bool net_rules_match(const struct net_rule *rules, size_t n, const struct net_addr *addr)
{
	for (size_t i = 0; i < n; i++) {
		if (rules[i].family != addr->family)
			continue;
		if (addr->family == AF_UNIX || addr->family == NET_FAMILY_MQTT ||
		    same_prefix(rules[i].addr, addr->addr, rules[i].prefix))
			return true;
	}
	return false;
}
