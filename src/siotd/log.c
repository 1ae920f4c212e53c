/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include <systemd/sd-journal.h>

static struct log_state before_init;
static struct log_state *state = &before_init;

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

void log_init(struct log_state *st, bool debug)
{
	st->journal = stderr_is_journal();
	st->debug = debug;
	state = st;
}

static void vlog(int prio, bool with_errno, const char *fmt, va_list ap)
{
	char msg[2048];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (state->journal)
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, NULL);
	else
		fprintf(stderr, "siotd: %s\n", msg);
	errno = saved;
}

#define LOG_FN(name, prio, with_errno)                                                          \
	void name(const char *fmt, ...)                                                         \
	{                                                                                       \
		va_list ap;                                                                     \
		va_start(ap, fmt);                                                              \
		vlog(prio, with_errno, fmt, ap);                                                \
		va_end(ap);                                                                     \
	}

LOG_FN(log_info, LOG_INFO, false)
LOG_FN(log_warn, LOG_WARNING, true)
LOG_FN(log_warnx, LOG_WARNING, false)
LOG_FN(log_error, LOG_ERR, false)

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!state->debug)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, false, fmt, ap);
	va_end(ap);
}

/* An IPv4 address and port in one format call: inet_ntop and a second
 * snprintf cost about as much again, once per connection. */
static void format_v4(const uint8_t a[4], uint16_t port_be, char *out, size_t len)
{
	snprintf(out, len, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], ntohs(port_be));
}

void log_format_peer(const struct sockaddr_storage *sa, uid_t uid, char *out, size_t len)
{
	char buf[INET6_ADDRSTRLEN];

	switch (sa->ss_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		format_v4((const uint8_t *)&in->sin_addr, in->sin_port, out, len);
		return;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			format_v4(in6->sin6_addr.s6_addr + 12, in6->sin6_port, out, len);
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
			snprintf(out, len, "[%s]:%u", buf, ntohs(in6->sin6_port));
		}
		return;
	}
	default:
		snprintf(out, len, "uid=%u", (unsigned)uid);
		return;
	}
}

void log_request(const struct log_line *l)
{
	unsigned long long ms = (unsigned long long)(l->duration_usec / 1000);
	/* The optional parts as label and value, so that one format call
	 * makes the line: no pieces formatted first. */
	const char *from_label = l->session ? "via=mqtt session=" : "peer=";
	const char *from = l->session ? l->session : l->peer;
	const char *why_label = l->reason ? " reason=" : "", *why = l->reason ? l->reason : "";
	const char *key_label = l->key ? " key=" : "", *key = l->key ? l->key : "";
	const char *note = l->note ? l->note : "";
	const char *note_sep = *note ? " " : "";
	int saved = errno;

	if (state->journal) {
		sd_journal_send("MESSAGE=request %s%s client=%s command=%s outcome=%s%s%s "
				"duration=%llums%s%s%s%s",
				from_label, from, l->client, l->command, l->outcome, why_label, why,
				ms, key_label, key, note_sep, note, "PRIORITY=%d", LOG_INFO,
				"SIOT_PEER=%s", l->session ? "" : l->peer, "SIOT_VIA=%s",
				l->session ? "mqtt" : "", "SIOT_SESSION=%s", l->session ? l->session : "",
				"SIOT_CLIENT=%s", l->client, "SIOT_COMMAND=%s", l->command,
				"SIOT_OUTCOME=%s", l->outcome, "SIOT_REASON=%s", why,
				"SIOT_DURATION_MS=%llu", ms, "SIOT_KEY=%s", key, NULL);
	} else {
		fprintf(stderr, "siotd: request %s%s client=%s command=%s outcome=%s%s%s "
				"duration=%llums%s%s%s%s\n",
			from_label, from, l->client, l->command, l->outcome, why_label, why, ms,
			key_label, key, note_sep, note);
	}
	errno = saved;
}

void log_format_source(const struct sockaddr_storage *sa, uid_t uid, char *out, size_t len)
{
	char buf[INET6_ADDRSTRLEN];

	switch (sa->ss_family) {
	case AF_INET:
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
		return;
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		struct in6_addr prefix = in6->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(&prefix)) {
			inet_ntop(AF_INET, prefix.s6_addr + 12, out, (socklen_t)len);
			return;
		}
		memset(prefix.s6_addr + 8, 0, 8);
		inet_ntop(AF_INET6, &prefix, buf, sizeof(buf));
		snprintf(out, len, "%s/64", buf);
		return;
	}
	default:
		snprintf(out, len, "uid=%u", (unsigned)uid);
		return;
	}
}

static void write_left_out(const struct log_summary *e, uint64_t now)
{
	log_info("source %s: %u more request(s) with outcome=%s in the last %.0f s, not logged "
		 "one by one",
		 e->source, e->left_out, e->outcome, (double)(now - e->since) / 1e6);
}

static struct log_summary *summary_for(const char *source, const char *outcome, uint64_t now)
{
	struct log_summary *oldest = NULL;

	for (size_t i = 0; i < state->n_summary; i++) {
		struct log_summary *e = &state->summary[i];

		if (strcmp(e->source, source) == 0 && strcmp(e->outcome, outcome) == 0)
			return e;
		if (!oldest || e->since < oldest->since)
			oldest = e;
	}
	if (state->n_summary < LOG_SUMMARY_SOURCES) {
		oldest = &state->summary[state->n_summary++];
	} else if (oldest->left_out) {
		write_left_out(oldest, now); /* its count is not lost */
	}
	snprintf(oldest->source, sizeof(oldest->source), "%s", source);
	snprintf(oldest->outcome, sizeof(oldest->outcome), "%s", outcome);
	oldest->since = 0;
	oldest->left_out = 0;
	return oldest;
}

void log_unverified(const char *source, uint64_t now, const struct log_line *l)
{
	struct log_summary *e = summary_for(source, l->outcome, now);

	if (e->since && now - e->since < LOG_SUMMARY_USEC) {
		e->left_out++;
		return;
	}
	if (e->left_out)
		write_left_out(e, now);
	e->since = now ? now : 1;
	e->left_out = 0;
	log_request(l);
}

void log_flush_summaries(uint64_t now)
{
	for (size_t i = 0; i < state->n_summary;) {
		struct log_summary *e = &state->summary[i];

		if (now - e->since < LOG_SUMMARY_USEC) {
			i++;
			continue;
		}
		if (e->left_out) {
			write_left_out(e, now);
			e->left_out = 0;
			e->since = now;
			i++;
			continue;
		}
		*e = state->summary[--state->n_summary]; /* quiet: forget it */
	}
}
