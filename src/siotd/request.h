/* SPDX-License-Identifier: MIT */
/*
 * The request decision: given a complete, parsed request, decide what it
 * gets.  A pure function of (config, limiter view, source, exchange, now):
 * no I/O, no logging, nothing recorded; the caller applies the verdict
 * (notes the failure or success, takes the concurrency slot, starts the
 * action, answers).  The order is the security order of ARCHITECTURE.md:
 *
 *   1. a source in backoff, or the pair (source, claimed known id), is
 *      BUSY before any candidate is computed; so is a request through the
 *      broker over mqtt.request_rate (the broker has no backoff);
 *   2. the client is looked up (v1); an unknown or invalid id is scanned
 *      with the config's secret dummy key, against every command;
 *   3. the scan computes every candidate's tag and compares each in
 *      constant time, with no early exit;
 *   4. no match is REJECTED; a match whose command is at its concurrency
 *      limit is BUSY; otherwise RUN.
 *
 * MACs computed per kind of request (counted in ex->macs), so that timing
 * does not tell which client ids exist or what they may run:
 *   backoff, over the rate: 0 here (the caller's BUSY response computes one);
 *   v1, any id (known, unknown, invalid, restricted or not): every command,
 *     N, under the client's key or the dummy key; whether the client may
 *     run the command that matched is looked at only after the full scan;
 *   classic: every (client, allowed command) pair.
 */
#ifndef SIOTD_REQUEST_H
#define SIOTD_REQUEST_H

#include <stdint.h>

#include "config.h"
#include "limiter.h"
#include "siot.h"

enum request_verdict { REQUEST_RUN, REQUEST_REJECT, REQUEST_BUSY };

enum request_reason {
	REQUEST_MATCHED,          /* RUN */
	REQUEST_BACKING_OFF,      /* BUSY: the source is backing off */
	REQUEST_OVER_RATE,        /* BUSY: over mqtt.request_rate (the broker) */
	REQUEST_AT_CONCURRENCY,   /* BUSY: the command runs as often as it may */
	REQUEST_NO_MATCH,         /* REJECT, classic: no candidate matched */
	REQUEST_INVALID_ID,       /* REJECT, v1: the id has characters no id has */
	REQUEST_UNKNOWN_CLIENT,   /* REJECT, v1 */
	REQUEST_NOT_MATCHED,      /* REJECT, v1: no command matched */
	REQUEST_NOT_ALLOWED,      /* REJECT, v1: a command matched that this client may not run */
	REQUEST_NOT_FROM,         /* REJECT: the client matched, but not from where it may */
};

struct request_decision {
	enum request_verdict verdict;
	enum request_reason reason;
	const struct client *client;    /* the known client, or NULL */
	const struct command *command;  /* the matched command (RUN, AT_CONCURRENCY, NOT_ALLOWED) */
	/* The key the response is made with: v1, the client's key that
	 * matched (its first key when none did) or the dummy key; classic, the
	 * matched key or NULL (no response). */
	const struct siot_key *key;
	const char *fingerprint;        /* of the key that matched, or NULL */
};

/* Decide for the complete request in ex (its HELLO and request were built
 * and fed under cfg's parameters) from source src at time now (usec). */
void request_decide(const struct config *cfg, const struct limiter *limits,
		    const struct source_key *src, const struct net_addr *peer,
		    struct siot_exchange *ex, uint64_t now, struct request_decision *out);

/* The log's words for a reason ("unknown client", ...). */
const char *request_reason_note(enum request_reason reason);
/* Its reason= word in the log ("unknown-client", "not-allowed", ...). */
const char *request_reason_word(enum request_reason reason);

#endif
