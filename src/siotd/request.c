/* SPDX-License-Identifier: MIT */
#include "request.h"

static void scan_classic(const struct config *cfg, struct siot_exchange *ex,
			 struct request_decision *d)
{
	size_t match = 0;

	if (siot_server_scan_classic(ex, cfg->classic.candidates, cfg->classic.n, &match) == 1) {
		d->client = cfg->classic.client[match];
		d->command = cfg->classic.command[match];
		d->key = d->client->key;
		return;
	}
	d->verdict = REQUEST_REJECT;
	d->reason = REQUEST_NO_MATCH;
}

static void scan_v1(const struct config *cfg, struct siot_exchange *ex,
		    struct request_decision *d)
{
	size_t match = 0;

	if (!d->client) {
		/* Unknown or invalid: the same work against every command, result unused. */
		siot_server_scan(ex, cfg->dummy_key, cfg->all_commands, cfg->n_commands, &match);
		d->verdict = REQUEST_REJECT;
		d->reason = ex->client_id_valid ? REQUEST_UNKNOWN_CLIENT : REQUEST_INVALID_ID;
		return;
	}
	/* Every command, whatever the client may run: the same count for all. */
	if (siot_server_scan(ex, d->client->key, cfg->all_commands, cfg->n_commands, &match) != 1) {
		d->verdict = REQUEST_REJECT;
		d->reason = REQUEST_NOT_MATCHED;
		return;
	}
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
		d.key = d.client ? d.client->key : cfg->dummy_key;
	}

	if (limiter_backing_off(limits, src, d.client ? d.client->id : NULL, now)) {
		d.verdict = REQUEST_BUSY;
		d.reason = REQUEST_BACKING_OFF;
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
