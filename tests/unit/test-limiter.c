/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of siotd's limiter: connection caps, backoff (counting,
 * doubling, its cap, reset by a success, a changed `failures`), per-command
 * concurrency, and which source is forgotten when the table is full.
 */
#include <check.h>
#include <errno.h>
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
	suite_add_tcase(s, tc);
	return check_run(s);
}
