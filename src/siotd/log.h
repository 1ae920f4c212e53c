/* SPDX-License-Identifier: MIT */
/*
 * siotd's one logging module.  Under systemd (stderr connected to the
 * journal, as $JOURNAL_STREAM says) lines go to the journal with structured
 * fields; otherwise to stderr, one line each.  Every function preserves
 * errno.  Library code never logs: callers log once, with context.
 */
#ifndef SIOTD_LOG_H
#define SIOTD_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* Pick the journal or stderr; debug lines only when `debug`. */
void log_init(bool debug);
bool log_to_journal(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* warn appends ": strerror(err)"; err is a positive errno value. */
void log_warn(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The one line a request gets: peer, client id ("-" when none or invalid),
 * command ("-" unless matched), outcome and duration, plus a free-form note.
 * In the journal they are also fields SIOT_PEER, SIOT_CLIENT, SIOT_COMMAND,
 * SIOT_OUTCOME, SIOT_DURATION_MS.  Never given a key or a tag.
 */
void log_request(const char *peer, const char *client, const char *command,
		 const char *outcome, uint64_t duration_usec, const char *note);

#endif
