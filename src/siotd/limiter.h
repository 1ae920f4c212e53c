/* SPDX-License-Identifier: MIT */
/*
 * Per-source connection caps and failure backoff, and per-command
 * concurrency.  A source is an IPv4 address, an IPv6 /64 (IPv4-mapped IPv6
 * addresses count as IPv4) or, on a Unix socket, the peer's uid.  State lives
 * for the daemon's life and survives reloads; the numbers it is checked
 * against come from the current config.  Times are CLOCK_MONOTONIC usec.
 */
#ifndef SIOTD_LIMITER_H
#define SIOTD_LIMITER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config.h"
#include "netmatch.h"

/* Most sources remembered.  When full, a source with no connection is
 * forgotten: the one seen longest ago (a connection, a failure or a
 * success), and one that is backing off only when no other is idle. */
#define LIMITER_MAX_SOURCES 4096
/* Most (source, client id) pairs remembered; when full, the one seen
 * longest ago is forgotten, one that is backing off last. */
#define LIMITER_MAX_PAIRS 4096

struct source_key {
	int family;          /* AF_INET, AF_INET6 or AF_UNIX */
	uint8_t addr[16];    /* 4 bytes, the /64 prefix (8 bytes), or the uid */
};

/* The source an accepted socket's address (or, for a Unix socket, its
 * peer's uid) belongs to. */
void source_key_from_sockaddr(const struct sockaddr_storage *sa, uid_t uid,
			      struct source_key *key);

struct limiter;

struct limiter *limiter_new(void);
void limiter_free(struct limiter *l);

/* A new connection from key: 0, -ENOSPC when the total is at max_total
 * (the caller may make room), or -EBUSY when the source is at its cap. */
int limiter_conn_open(struct limiter *l, const struct source_key *key, unsigned max_total,
		      unsigned max_per_source, uint64_t now);
void limiter_conn_close(struct limiter *l, const struct source_key *key);
/* Connections open from key now. */
unsigned limiter_conns_of(const struct limiter *l, const struct source_key *key);

/*
 * Backoff has two counters (siot.conf(5), backoff).  A failure that claimed
 * a known client id counts against the pair (source, id): `failures` of them
 * within `window` back that pair off.  A failure with no usable id (an
 * unknown or invalid id, classic, malformed input, a connection dropped at
 * its deadline without a request) counts against the source as a whole:
 * `source_failures` back the whole source off.  Backing off lasts `base`,
 * doubling with each further failure up to `max`.  One client failing
 * behind a shared address does not lock out the other clients there.
 */

/* True while key as a whole, or the pair (key, client_id) when client_id
 * is not NULL, is backed off: its requests get BUSY with no candidate
 * computed.  Never for the broker (NET_FAMILY_MQTT): a broker does not say
 * who published, and anyone may claim any id, so a failure there is not
 * counted (limiter_note_failure ignores it) and cannot back an honest
 * client off; the broker's cost is bounded by the scan rate below and by
 * mqtt.max_sessions instead. */
bool limiter_backing_off(const struct limiter *l, const struct source_key *key,
			 const char *client_id, uint64_t now);
/* A failure from key: client_id is the known id it claimed, or NULL. */
void limiter_note_failure(struct limiter *l, const struct source_key *key, const char *client_id,
			  const struct backoff_config *b, uint64_t now);
/* A verified request from key as client_id: forget that pair's failures. */
void limiter_note_success(struct limiter *l, const struct source_key *key, const char *client_id,
			  uint64_t now);

/* The scan rate through the broker: true when a request from key may be
 * scanned now at `rate` scans a second (a second's worth may come at once);
 * always for a source that is not the broker.  limiter_note_scan counts a
 * scan that was made. */
bool limiter_scan_allowed(const struct limiter *l, const struct source_key *key, unsigned rate,
			  uint64_t now);
void limiter_note_scan(struct limiter *l, const struct source_key *key, unsigned rate,
		       uint64_t now);

/* True when command `name` may start one more of its max concurrent runs. */
bool limiter_command_available(const struct limiter *l, const char *name, unsigned max);
/* Take one of max concurrent runs of command `name`: 0 or -EBUSY. */
int limiter_command_acquire(struct limiter *l, const char *name, unsigned max);
void limiter_command_release(struct limiter *l, const char *name);

#endif
