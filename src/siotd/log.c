/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include <systemd/sd-journal.h>

static bool journal;
static bool want_debug;

/* $JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected; use the
 * journal only if stderr is still that stream. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(bool debug)
{
	journal = stderr_is_journal();
	want_debug = debug;
}

bool log_to_journal(void)
{
	return journal;
}

static void vlog(int prio, int err, const char *fmt, va_list ap)
{
	char msg[2048];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	}
	if (journal)
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, NULL);
	else
		fprintf(stderr, "siotd: %s\n", msg);
	errno = saved;
}

#define LOG_FN(name, prio)                                                                      \
	void name(const char *fmt, ...)                                                         \
	{                                                                                       \
		va_list ap;                                                                     \
		va_start(ap, fmt);                                                              \
		vlog(prio, 0, fmt, ap);                                                         \
		va_end(ap);                                                                     \
	}

LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warnx, LOG_WARNING)
LOG_FN(log_error, LOG_ERR)

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!want_debug)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void log_warn(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, err, fmt, ap);
	va_end(ap);
}

void log_request(const char *peer, const char *client, const char *command,
		 const char *outcome, uint64_t duration_usec, const char *note)
{
	unsigned long long ms = (unsigned long long)(duration_usec / 1000);
	int saved = errno;

	if (!note)
		note = "";
	if (journal) {
		sd_journal_send("MESSAGE=request peer=%s client=%s command=%s outcome=%s "
				"duration=%llums%s%s",
				peer, client, command, outcome, ms, *note ? " " : "", note,
				"PRIORITY=%d", LOG_INFO, "SIOT_PEER=%s", peer, "SIOT_CLIENT=%s",
				client, "SIOT_COMMAND=%s", command, "SIOT_OUTCOME=%s", outcome,
				"SIOT_DURATION_MS=%llu", ms, NULL);
	} else {
		fprintf(stderr, "siotd: request peer=%s client=%s command=%s outcome=%s "
				"duration=%llums%s%s\n",
			peer, client, command, outcome, ms, *note ? " " : "", note);
	}
	errno = saved;
}
