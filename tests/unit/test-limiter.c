/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of siotd's limiter: connection caps, backoff (counting,
 * doubling, its cap, reset by a success, a changed `failures`), per-command
 * concurrency, and which source is forgotten when the table is full.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limiter.h"
#include "usec.h"
#include "check-run.h"

static struct source_key v4(unsigned n)
{
	struct source_key k = { .family = AF_INET };

	k.addr[0] = 10;
	k.addr[1] = (uint8_t)(n >> 16);
	k.addr[2] = (uint8_t)(n >> 8);
	k.addr[3] = (uint8_t)n;
	return k;
}

static const struct backoff_config backoff = { .failures = 3,
					       .source_failures = 3,
					       .window_usec = 60 * USEC_PER_SEC,
					       .base_usec = 2 * USEC_PER_SEC,
					       .max_usec = 5 * USEC_PER_SEC };

START_TEST(connection_caps)
{
	struct limiter *l = limiter_new();
	struct source_key a = v4(1), b = v4(2);

	ck_assert_int_eq(limiter_conn_open(l, &a, 3, 2, 1), 0);
	ck_assert_int_eq(limiter_conn_open(l, &a, 3, 2, 1), 0);
	ck_assert_int_eq(limiter_conn_open(l, &a, 3, 2, 1), -EBUSY); /* per source */
	ck_assert_int_eq(limiter_conn_open(l, &b, 3, 2, 1), 0);
	ck_assert_int_eq(limiter_conn_open(l, &b, 3, 2, 1), -ENOSPC); /* in total */
	limiter_conn_close(l, &a);
	ck_assert_int_eq(limiter_conn_open(l, &b, 3, 2, 1), 0);
	limiter_free(l);
}
END_TEST

START_TEST(backoff_doubles_up_to_max_and_success_clears)
{
	struct limiter *l = limiter_new();
	struct source_key a = v4(1);
	uint64_t t = 100 * USEC_PER_SEC;

	limiter_note_failure(l, &a, "x", &backoff, t);
	limiter_note_failure(l, &a, "x", &backoff, t);
	ck_assert(!limiter_backing_off(l, &a, "x", t));
	limiter_note_failure(l, &a, "x", &backoff, t); /* the third: base */
	ck_assert(limiter_backing_off(l, &a, "x", t + 2 * USEC_PER_SEC - 1));
	ck_assert(!limiter_backing_off(l, &a, "x", t + 2 * USEC_PER_SEC));
	t += 3 * USEC_PER_SEC;
	limiter_note_failure(l, &a, "x", &backoff, t); /* doubled: 4 s */
	ck_assert(limiter_backing_off(l, &a, "x", t + 4 * USEC_PER_SEC - 1));
	ck_assert(!limiter_backing_off(l, &a, "x", t + 4 * USEC_PER_SEC));
	t += 5 * USEC_PER_SEC;
	limiter_note_failure(l, &a, "x", &backoff, t); /* 8 s, cut to max 5 s */
	ck_assert(limiter_backing_off(l, &a, "x", t + 5 * USEC_PER_SEC - 1));
	ck_assert(!limiter_backing_off(l, &a, "x", t + 5 * USEC_PER_SEC));
	limiter_note_success(l, &a, "x", t);
	ck_assert(!limiter_backing_off(l, &a, "x", t));
	limiter_note_failure(l, &a, "x", &backoff, t);
	ck_assert(!limiter_backing_off(l, &a, "x", t)); /* counting starts again */
	limiter_free(l);
}
END_TEST

START_TEST(failures_outside_the_window_do_not_count)
{
	struct limiter *l = limiter_new();
	struct source_key a = v4(1);

	limiter_note_failure(l, &a, "x", &backoff, 1 * USEC_PER_SEC);
	limiter_note_failure(l, &a, "x", &backoff, 2 * USEC_PER_SEC);
	limiter_note_failure(l, &a, "x", &backoff, 70 * USEC_PER_SEC);
	ck_assert(!limiter_backing_off(l, &a, "x", 70 * USEC_PER_SEC));
	limiter_free(l);
}
END_TEST

/* One client failing behind a shared address backs off that pair only:
 * another client there, and the same client elsewhere, go on.  Failures
 * with no usable id back off the whole source, at source_failures. */
START_TEST(two_counters)
{
	const struct backoff_config b = { .failures = 2, .source_failures = 4,
					  .window_usec = 60 * USEC_PER_SEC,
					  .base_usec = 10 * USEC_PER_SEC,
					  .max_usec = 60 * USEC_PER_SEC };
	struct limiter *l = limiter_new();
	struct source_key nat = v4(1), other = v4(2);

	limiter_note_failure(l, &nat, "alice", &b, 1);
	limiter_note_failure(l, &nat, "alice", &b, 2);
	ck_assert(limiter_backing_off(l, &nat, "alice", 3));
	ck_assert(!limiter_backing_off(l, &nat, "bob", 3));
	ck_assert(!limiter_backing_off(l, &nat, NULL, 3));
	ck_assert(!limiter_backing_off(l, &other, "alice", 3));
	/* bob's success does not clear alice's backoff. */
	limiter_note_success(l, &nat, "bob", 4);
	ck_assert(limiter_backing_off(l, &nat, "alice", 5));
	/* Unknown ids count against the whole source: at 4, everyone waits. */
	for (int i = 0; i < 3; i++)
		limiter_note_failure(l, &nat, NULL, &b, 10 + i);
	ck_assert(!limiter_backing_off(l, &nat, "bob", 20));
	limiter_note_failure(l, &nat, NULL, &b, 20);
	ck_assert(limiter_backing_off(l, &nat, "bob", 21));
	ck_assert(limiter_backing_off(l, &nat, NULL, 21));
	ck_assert(!limiter_backing_off(l, &other, "bob", 21));
	limiter_free(l);
}
END_TEST

START_TEST(command_concurrency)
{
	struct limiter *l = limiter_new();

	ck_assert(limiter_command_available(l, "x", 2));
	ck_assert_int_eq(limiter_command_acquire(l, "x", 2), 0);
	ck_assert_int_eq(limiter_command_acquire(l, "x", 2), 0);
	ck_assert(!limiter_command_available(l, "x", 2));
	ck_assert_int_eq(limiter_command_acquire(l, "x", 2), -EBUSY);
	ck_assert(limiter_command_available(l, "y", 1));
	limiter_command_release(l, "x");
	ck_assert(limiter_command_available(l, "x", 2));
	limiter_command_release(l, "x");
	limiter_free(l);
}
END_TEST

/* Whether key is remembered with one earlier failure: two more make three,
 * the backoff threshold, only if the first was not forgotten. */
static bool remembered(struct limiter *l, const struct source_key *key, uint64_t now)
{
	limiter_note_failure(l, key, NULL, &backoff, now);
	limiter_note_failure(l, key, NULL, &backoff, now);
	return limiter_backing_off(l, key, NULL, now);
}

/* A full table forgets the idle source seen longest ago, where a connection
 * counts as being seen (it once recorded nothing), and keeps a source that
 * is backing off while an idle one remains. */
START_TEST(eviction_order)
{
	struct limiter *l = limiter_new();
	struct source_key blocked = v4(0), recent = v4(1), early = v4(2), k;
	const uint64_t late = 1000 * USEC_PER_SEC;

	for (unsigned i = 0; i < backoff.source_failures; i++)
		limiter_note_failure(l, &blocked, NULL, &backoff, 1);  /* the oldest record */
	limiter_note_failure(l, &recent, NULL, &backoff, 5);
	ck_assert_int_eq(limiter_conn_open(l, &recent, 100000, 10, late), 0); /* seen late */
	limiter_conn_close(l, &recent);
	limiter_note_failure(l, &early, NULL, &backoff, 10);
	for (unsigned i = 3; i < LIMITER_MAX_SOURCES; i++) {
		k = v4(i);
		limiter_note_failure(l, &k, NULL, &backoff, 1000 + i);
	}
	/* The table is full: a new source forgets `early`. */
	k = v4(LIMITER_MAX_SOURCES);
	ck_assert_int_eq(limiter_conn_open(l, &k, 100000, 10, 20), 0);
	limiter_conn_close(l, &k);
	ck_assert(limiter_backing_off(l, &blocked, NULL, 30));
	ck_assert(!remembered(l, &early, 30));
	ck_assert(remembered(l, &recent, 40));
	limiter_free(l);
}
END_TEST

/* Sources as siotd keys them: IPv4, IPv6 by its /64, a v4-mapped IPv6
 * address as the IPv4 one, and Unix peers by uid. */
START_TEST(source_keys)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct source_key a, b;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &in->sin_addr);
	source_key_from_sockaddr(&ss, 0, &a);
	ck_assert_int_eq(a.family, AF_INET);

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &in6->sin6_addr);
	source_key_from_sockaddr(&ss, 0, &b);
	ck_assert_int_eq(b.family, AF_INET);
	ck_assert_mem_eq(a.addr, b.addr, sizeof(a.addr));

	inet_pton(AF_INET6, "2001:db8:1:2::1", &in6->sin6_addr);
	source_key_from_sockaddr(&ss, 0, &a);
	inet_pton(AF_INET6, "2001:db8:1:2:ffff::9", &in6->sin6_addr);
	source_key_from_sockaddr(&ss, 0, &b);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_mem_eq(a.addr, b.addr, sizeof(a.addr)); /* one /64, one source */
	inet_pton(AF_INET6, "2001:db8:1:3::1", &in6->sin6_addr);
	source_key_from_sockaddr(&ss, 0, &b);
	ck_assert_mem_ne(a.addr, b.addr, sizeof(a.addr));

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	source_key_from_sockaddr(&ss, 1000, &a);
	source_key_from_sockaddr(&ss, 1001, &b);
	ck_assert_int_eq(a.family, AF_UNIX);
	ck_assert_mem_ne(a.addr, b.addr, sizeof(a.addr));
}
END_TEST

/* A full table where every source holds a connection: the new source is
 * refused (-EBUSY), nothing is forgotten, and it gets in once one closes. */
START_TEST(full_table_of_connected_sources)
{
	struct limiter *l = limiter_new();
	struct source_key k;

	for (unsigned i = 0; i < LIMITER_MAX_SOURCES; i++) {
		k = v4(i);
		ck_assert_int_eq(limiter_conn_open(l, &k, 100000, 1, i), 0);
	}
	k = v4(LIMITER_MAX_SOURCES);
	ck_assert_int_eq(limiter_conn_open(l, &k, 100000, 1, 9999), -EBUSY);
	/* With no source known, a failure from it is not counted anywhere. */
	limiter_note_failure(l, &k, NULL, &backoff, 9999);
	ck_assert_uint_eq(limiter_conns_of(l, &k), 0);
	k = v4(7);
	limiter_conn_close(l, &k);
	limiter_conn_close(l, &k); /* a second close is harmless */
	k = v4(LIMITER_MAX_SOURCES);
	ck_assert_int_eq(limiter_conn_open(l, &k, 100000, 1, 10000), 0);
	ck_assert_uint_eq(limiter_conns_of(l, &k), 1);
	ck_assert_int_eq(limiter_conn_open(l, &k, 100000, 1, 10000), -EBUSY); /* per source */
	ck_assert_int_eq(limiter_conn_open(l, &k, LIMITER_MAX_SOURCES, 9, 10000), -ENOSPC);
	limiter_free(l);
}
END_TEST

/* The (source, id) table full: the pair seen longest ago is forgotten, but
 * not one that is backing off while others are not. */
START_TEST(pair_eviction_keeps_backing_off_pairs)
{
	struct limiter *l = limiter_new();
	struct source_key src = v4(1);
	char id[16];

	for (unsigned i = 0; i < backoff.failures; i++)
		limiter_note_failure(l, &src, "blocked", &backoff, 1 + i);
	ck_assert(limiter_backing_off(l, &src, "blocked", 10));
	for (unsigned i = 1; i < LIMITER_MAX_PAIRS; i++) {
		snprintf(id, sizeof(id), "c%u", i);
		limiter_note_failure(l, &src, id, &backoff, 100 + i);
	}
	/* Full: "c1", the oldest that is not backing off, makes room. */
	limiter_note_failure(l, &src, "new", &backoff, 100000);
	limiter_note_failure(l, &src, "new", &backoff, 100001);
	limiter_note_failure(l, &src, "new", &backoff, 100002);
	ck_assert(limiter_backing_off(l, &src, "blocked", 100003));
	ck_assert(limiter_backing_off(l, &src, "new", 100003));
	/* An id longer than any valid one is never recorded. */
	limiter_note_failure(l, &src, "0123456789012345678901234567890123456789", &backoff, 5);
	limiter_note_success(l, &src, "blocked", 100004);
	ck_assert(!limiter_backing_off(l, &src, "blocked", 100005));
	limiter_free(l);
}
END_TEST

/* A reload that lowers `failures` below the count kept so far starts the
 * count again rather than reading past the ring. */
START_TEST(threshold_lowered_by_reload)
{
	struct limiter *l = limiter_new();
	struct source_key k = v4(3);
	struct backoff_config high = backoff, low = backoff;

	high.failures = 5;
	low.failures = 2;
	for (unsigned i = 0; i < 4; i++)
		limiter_note_failure(l, &k, "a", &high, 10 + i);
	ck_assert(!limiter_backing_off(l, &k, "a", 20));
	limiter_note_failure(l, &k, "a", &low, 21); /* count restarts: 1 of 2 */
	ck_assert(!limiter_backing_off(l, &k, "a", 22));
	limiter_note_failure(l, &k, "a", &low, 23);
	ck_assert(limiter_backing_off(l, &k, "a", 24));
	limiter_free(l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("limiter");
	TCase *tc = tcase_create("limiter");

	tcase_add_test(tc, connection_caps);
	tcase_add_test(tc, backoff_doubles_up_to_max_and_success_clears);
	tcase_add_test(tc, failures_outside_the_window_do_not_count);
	tcase_add_test(tc, two_counters);
	tcase_add_test(tc, command_concurrency);
	tcase_add_test(tc, eviction_order);
	tcase_add_test(tc, source_keys);
	tcase_add_test(tc, full_table_of_connected_sources);
	tcase_add_test(tc, pair_eviction_keeps_backing_off_pairs);
	tcase_add_test(tc, threshold_lowered_by_reload);
	suite_add_tcase(s, tc);
	return check_run(s);
}
