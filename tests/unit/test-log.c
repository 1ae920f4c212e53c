/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of siotd's log lines (log.c) on stderr: how a peer is named,
 * the one line a request gets with each of its optional parts, and the
 * per-source summary of unverified requests.  The lines are read back from
 * a file that stderr is pointed at, byte for byte.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "check-run.h"

static struct log_state st;

static void peer_of(const char *addr, unsigned port, char *out, size_t len)
{
	struct sockaddr_storage ss = { 0 };

	if (strchr(addr, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET, addr, &in->sin_addr), 1);
	}
	log_format_peer(&ss, (uid_t)-1, out, len);
}

START_TEST(peers_are_named_address_and_port)
{
	static const struct {
		const char *addr;
		unsigned port;
		const char *want;
	} cases[] = {
		{ "192.0.2.1", 5000, "192.0.2.1:5000" },
		{ "0.0.0.0", 0, "0.0.0.0:0" },
		{ "255.255.255.255", 65535, "255.255.255.255:65535" },
		{ "10.200.3.45", 7468, "10.200.3.45:7468" },
		{ "::ffff:10.1.2.3", 7468, "10.1.2.3:7468" },   /* IPv4-mapped: as IPv4 */
		{ "2001:db8::1", 5000, "[2001:db8::1]:5000" },
		{ "::1", 1, "[::1]:1" },
	};
	char out[80];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		peer_of(cases[i].addr, cases[i].port, out, sizeof(out));
		ck_assert_str_eq(out, cases[i].want);
	}
	/* Cut short, never past the buffer. */
	peer_of("192.0.2.1", 5000, out, 8);
	ck_assert_str_eq(out, "192.0.2");
}
END_TEST

START_TEST(a_unix_peer_is_its_uid)
{
	struct sockaddr_storage ss = { .ss_family = AF_UNIX };
	char out[80];

	log_format_peer(&ss, 1000, out, sizeof(out));
	ck_assert_str_eq(out, "uid=1000");
}
END_TEST

/* stderr into a fresh file; returns the file, to be read by logged(). */
static FILE *capture(void)
{
	FILE *f = tmpfile();

	ck_assert_ptr_nonnull(f);
	fflush(stderr);
	ck_assert_int_ge(dup2(fileno(f), 2), 0);
	return f;
}

static const char *logged(FILE *f)
{
	static char buf[4096];
	size_t n;

	fflush(stderr);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

START_TEST(a_request_line_has_its_parts_in_order)
{
	FILE *f = capture();
	struct log_line ok = { .peer = "192.0.2.1:5000", .client = "alice", .command = "open",
			       .outcome = "ok", .key = "SHA256:mwgnBVGZI0odcTQDwuOhhEvopTKkVsmfRFQvrAWaeo8",
			       .duration_usec = 12345, .note = "relay0 = 1" };
	struct log_line rejected = { .peer = "-", .session = "0a1b2c3d", .client = "-", .command = "-",
				     .outcome = "rejected", .reason = "not-allowed" };
	struct log_line busy = { .peer = "[2001:db8::1]:5000", .client = "bob", .command = "c1",
				 .outcome = "busy", .reason = "backoff", .duration_usec = 999,
				 .note = "" };

	log_request(&ok);
	log_request(&rejected);
	log_request(&busy);
	ck_assert_str_eq(logged(f),
			 "siotd: request peer=192.0.2.1:5000 client=alice command=open outcome=ok "
			 "duration=12ms key=SHA256:mwgnBVGZI0odcTQDwuOhhEvopTKkVsmfRFQvrAWaeo8 relay0 = 1\n"
			 "siotd: request via=mqtt session=0a1b2c3d client=- command=- "
			 "outcome=rejected reason=not-allowed duration=0ms\n"
			 "siotd: request peer=[2001:db8::1]:5000 client=bob command=c1 outcome=busy "
			 "reason=backoff duration=0ms\n");
	fclose(f);
}
END_TEST

START_TEST(unverified_requests_are_summarised_per_source)
{
	FILE *f = capture();
	struct log_line l = { .peer = "192.0.2.9:4000", .client = "-", .command = "-",
			      .outcome = "rejected" };
	const uint64_t t0 = 100 * 1000000ULL;

	log_unverified("192.0.2.9", t0, &l);                /* written */
	log_unverified("192.0.2.9", t0 + 1000000, &l);      /* counted */
	log_unverified("192.0.2.9", t0 + 2000000, &l);      /* counted */
	log_unverified("192.0.2.8", t0 + 2000000, &l);      /* another source: written */
	log_flush_summaries(t0 + LOG_SUMMARY_USEC);
	ck_assert_str_eq(logged(f),
			 "siotd: request peer=192.0.2.9:4000 client=- command=- outcome=rejected "
			 "duration=0ms\n"
			 "siotd: request peer=192.0.2.9:4000 client=- command=- outcome=rejected "
			 "duration=0ms\n"
			 "siotd: source 192.0.2.9: 2 more request(s) with outcome=rejected in the "
			 "last 10 s, not logged one by one\n");
	fclose(f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	unsetenv("JOURNAL_STREAM"); /* stderr, not the journal */
	log_init(&st, false);
	tcase_add_test(tc, peers_are_named_address_and_port);
	tcase_add_test(tc, a_unix_peer_is_its_uid);
	tcase_add_test(tc, a_request_line_has_its_parts_in_order);
	tcase_add_test(tc, unverified_requests_are_summarised_per_source);
	suite_add_tcase(s, tc);
	return check_run(s);
}
