/* SPDX-License-Identifier: MIT */
/*
 * siotd's one logging module.  Under systemd (stderr connected to the
 * journal, as $JOURNAL_STREAM says) lines go to the journal with structured
 * fields; otherwise to stderr, one line each.  Every function preserves
 * errno.  Library code never logs: callers log once, with context.
 *
 * The state (where lines go, whether debug lines are wanted) is a struct
 * log_state that the daemon owns and hands to log_init; until then lines go
 * to stderr and debug lines are dropped.
 */
#ifndef SIOTD_LOG_H
#define SIOTD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Lines about requests that were not verified are summarised per source
 * over this long (log_unverified). */
#define LOG_SUMMARY_USEC (10 * 1000000ULL)
#define LOG_SUMMARY_SOURCES 256

struct log_summary {
	char source[64];
	char outcome[16];
	uint64_t since;      /* when its last line was written */
	unsigned left_out;   /* lines counted, not written, since then */
};

struct log_state {
	bool journal;  /* stderr is the journal's stream */
	bool debug;    /* debug lines are wanted */
	struct log_summary summary[LOG_SUMMARY_SOURCES];
	size_t n_summary;
};

/* Decide where lines go (checked once, here) and use st from now on. */
void log_init(struct log_state *st, bool debug);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* warn appends ": strerror(errno)"; warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A peer as the log names it: "192.0.2.1:5000", "[2001:db8::1]:5000" (an
 * IPv4-mapped address as IPv4), or "uid=1000" for a Unix socket's peer. */
void log_format_peer(const struct sockaddr_storage *sa, uid_t uid, char *out, size_t len);

/* A source as the summaries name it: the peer without its port, an IPv6
 * address as its /64 ("2001:db8:1:2::/64"), "uid=1000" for a Unix socket. */
void log_format_source(const struct sockaddr_storage *sa, uid_t uid, char *out, size_t len);

/* What a request's line says. */
struct log_line {
	const char *peer;
	const char *session;     /* an MQTT session's id (hex): "via=mqtt session=..." in
				  * place of the peer; NULL for a socket */
	const char *client;      /* "-" when none or invalid */
	const char *command;     /* "-" unless one matched */
	const char *outcome;
	const char *reason;      /* for rejected and busy: "not-allowed" ...; or NULL */
	const char *key;         /* the matched key's fingerprint, or NULL */
	uint64_t duration_usec;
	const char *note;        /* free-form, or NULL */
};

/*
 * The one line a request gets: peer (or via=mqtt and the session), client, command, outcome, reason (when
 * there is one), duration, the fingerprint of the key that matched (when one
 * did), then the note.  In the journal they are also fields SIOT_PEER (or
 * SIOT_VIA and SIOT_SESSION),
 * SIOT_CLIENT, SIOT_COMMAND, SIOT_OUTCOME, SIOT_REASON, SIOT_DURATION_MS and
 * SIOT_KEY.  Never given a key or a tag, only a key's fingerprint.
 */
void log_request(const struct log_line *l);

/*
 * The line of a connection or request that was not verified (malformed,
 * dropped, rejected, or refused while backing off), as log_request, but
 * summarised per source so that a flood cannot push real lines out of the
 * journal's rate limit: per source and outcome, the first line within
 * LOG_SUMMARY_USEC is written, later ones are counted, and the count is written (with the next line, or
 * by log_flush_summaries) at most once per LOG_SUMMARY_USEC.  Lines of
 * verified requests never go through here.  now: CLOCK_MONOTONIC usec.
 */
void log_unverified(const char *source, uint64_t now, const struct log_line *l);
/* Write the counts whose period has ended, and forget quiet sources; call
 * every LOG_SUMMARY_USEC or so. */
void log_flush_summaries(uint64_t now);

#endif
