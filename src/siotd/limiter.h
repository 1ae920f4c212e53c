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

/* Most sources remembered.  When full, a source with no connection is
 * forgotten: the one seen longest ago (a connection, a failure or a
 * success), and one that is backing off only when no other is idle. */
#define LIMITER_MAX_SOURCES 4096

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

/* A new connection from key: 0, or -EBUSY when the total or the source is
 * at its cap (the caller closes the connection at once). */
int limiter_conn_open(struct limiter *l, const struct source_key *key, unsigned max_total,
		      unsigned max_per_source, uint64_t now);
void limiter_conn_close(struct limiter *l, const struct source_key *key);

/* True while key is backed off: its requests get BUSY with no candidate
 * computed. */
bool limiter_backing_off(const struct limiter *l, const struct source_key *key, uint64_t now);
/* A REJECTED or malformed request from key.  `failures` such within `window`
 * seconds back the source off for `base` seconds, doubling with each further
 * failure up to `max`. */
void limiter_note_failure(struct limiter *l, const struct source_key *key,
			 const struct backoff_config *b, uint64_t now);
/* A verified request from key: forget its failures. */
void limiter_note_success(struct limiter *l, const struct source_key *key, uint64_t now);

/* True when command `name` may start one more of its max concurrent runs. */
bool limiter_command_available(const struct limiter *l, const char *name, unsigned max);
/* Take one of max concurrent runs of command `name`: 0 or -EBUSY. */
int limiter_command_acquire(struct limiter *l, const char *name, unsigned max);
void limiter_command_release(struct limiter *l, const char *name);

#endif
