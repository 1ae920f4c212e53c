/* SPDX-License-Identifier: MIT */
#include "request.h"

static void scan_classic(const struct config *cfg, struct siot_exchange *ex,
			 struct request_decision *d)
{
	size_t match = 0;

	if (siot_server_scan_classic(ex, cfg->classic.candidates, cfg->classic.n, &match) == 1) {
		d->client = cfg->classic.client[match];
		d->command = cfg->classic.command[match];
		d->key = cfg->classic.key[match]->key;
		d->fingerprint = cfg->classic.key[match]->fingerprint;
		return;
	}
	d->verdict = REQUEST_REJECT;
	d->reason = REQUEST_NO_MATCH;
}

/* Every command under each of K_max key slots: the client's keys, then the
 * dummy key for the slots it does not use (all of them for an unknown id),
 * so a request costs K_max x N MACs whoever sent it and whichever key, if
 * any, matched (siot-protocol(7), "MAC count"). */
static void scan_v1(const struct config *cfg, struct siot_exchange *ex,
		    struct request_decision *d)
{
	const struct client *cl = d->client;
	size_t match = 0, slot = 0;
	bool found = false;

	for (size_t k = 0; k < cfg->max_keys; k++) {
		const struct siot_key *key = cl && k < cl->n_keys && cl->keys[k].key
						     ? cl->keys[k].key
						     : cfg->dummy_key;
		size_t m = 0;
		bool hit = siot_server_scan(ex, key, cfg->all_commands, cfg->n_commands, &m) == 1;

		if (hit && !found && cl && k < cl->n_keys) {
			found = true;
			match = m;
			slot = k;
		}
	}
	if (!cl) {
		d->verdict = REQUEST_REJECT;
		d->reason = ex->client_id_valid ? REQUEST_UNKNOWN_CLIENT : REQUEST_INVALID_ID;
		return;
	}
	if (!found) {
		d->verdict = REQUEST_REJECT;
		d->reason = REQUEST_NOT_MATCHED;
		return;
	}
	/* The answer is made with the key that matched, which the client has. */
	d->key = cl->keys[slot].key;
	d->fingerprint = cl->keys[slot].fingerprint;
	d->command = &cfg->commands[match];
	if (!d->client->may_run[match]) {
		d->verdict = REQUEST_REJECT;
		d->reason = REQUEST_NOT_ALLOWED;
	}
}

void request_decide(const struct config *cfg, const struct limiter *limits,
		    const struct source_key *src, const struct net_addr *peer,
		    struct siot_exchange *ex, uint64_t now, struct request_decision *out)
{
	bool v1 = cfg->params.profile == SIOT_PROFILE_V1;
	struct request_decision d = { .verdict = REQUEST_RUN, .reason = REQUEST_MATCHED };

	if (v1) {
		if (ex->client_id_valid)
			d.client = config_find_client(cfg, ex->client_id);
		/* Until a key matches: the client's first (newest) key. */
		d.key = d.client && d.client->n_keys ? d.client->keys[0].key : cfg->dummy_key;
	}

	if (limiter_backing_off(limits, src, d.client ? d.client->id : NULL, now)) {
		d.verdict = REQUEST_BUSY;
		d.reason = REQUEST_BACKING_OFF;
	} else if (cfg->mqtt &&
		   !limiter_scan_allowed(limits, src, cfg->mqtt->request_rate, now)) {
		d.verdict = REQUEST_BUSY;
		d.reason = REQUEST_OVER_RATE;
	} else if (v1) {
		scan_v1(cfg, ex, &d);
	} else {
		scan_classic(cfg, ex, &d);
	}
	/* After the full scan, so the work is the same wherever it came from:
	 * a client that proved its key, but from where it may not connect. */
	if (d.command && d.client && d.client->from &&
	    !net_rules_match(d.client->from, d.client->n_from, peer)) {
		d.verdict = REQUEST_REJECT;
		d.reason = REQUEST_NOT_FROM;
	}

	if (d.verdict == REQUEST_RUN &&
	    !limiter_command_available(limits, d.command->name, d.command->concurrency)) {
		d.verdict = REQUEST_BUSY;
		d.reason = REQUEST_AT_CONCURRENCY;
	}
	*out = d;
}

const char *request_reason_note(enum request_reason reason)
{
	switch (reason) {
	case REQUEST_MATCHED:
		return "";
	case REQUEST_BACKING_OFF:
		return "source is backing off";
	case REQUEST_OVER_RATE:
		return "over mqtt.request_rate: too many requests through the broker";
	case REQUEST_AT_CONCURRENCY:
		return "command at its concurrency limit";
	case REQUEST_NO_MATCH:
		return "no command matched";
	case REQUEST_INVALID_ID:
		return "invalid client id";
	case REQUEST_UNKNOWN_CLIENT:
		return "unknown client";
	case REQUEST_NOT_MATCHED:
		return "no command matched";
	case REQUEST_NOT_ALLOWED:
		return "a command this client may not run";
	case REQUEST_NOT_FROM:
		return "this client may not connect from this address";
	}
	return "?";
}

const char *request_reason_word(enum request_reason reason)
{
	switch (reason) {
	case REQUEST_MATCHED:
		return NULL;
	case REQUEST_BACKING_OFF:
		return "backing-off";
	case REQUEST_OVER_RATE:
		return "over-rate";
	case REQUEST_AT_CONCURRENCY:
		return "in-use";
	case REQUEST_NO_MATCH:
	case REQUEST_NOT_MATCHED:
		return "no-match";
	case REQUEST_INVALID_ID:
		return "invalid-id";
	case REQUEST_UNKNOWN_CLIENT:
		return "unknown-client";
	case REQUEST_NOT_ALLOWED:
		return "not-allowed";
	case REQUEST_NOT_FROM:
		return "not-from";
	}
	return NULL;
}
