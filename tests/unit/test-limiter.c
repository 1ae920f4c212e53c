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
	ck_assert_int_eq(limiter_conn_open(l, &b, 3, 2, 1), -EBUSY); /* in total */
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

	limiter_note_failure(l, &a, &backoff, t);
	limiter_note_failure(l, &a, &backoff, t);
	ck_assert(!limiter_backing_off(l, &a, t));
	limiter_note_failure(l, &a, &backoff, t); /* the third: base */
	ck_assert(limiter_backing_off(l, &a, t + 2 * USEC_PER_SEC - 1));
	ck_assert(!limiter_backing_off(l, &a, t + 2 * USEC_PER_SEC));
	t += 3 * USEC_PER_SEC;
	limiter_note_failure(l, &a, &backoff, t); /* doubled: 4 s */
	ck_assert(limiter_backing_off(l, &a, t + 4 * USEC_PER_SEC - 1));
	ck_assert(!limiter_backing_off(l, &a, t + 4 * USEC_PER_SEC));
	t += 5 * USEC_PER_SEC;
	limiter_note_failure(l, &a, &backoff, t); /* 8 s, cut to max 5 s */
	ck_assert(limiter_backing_off(l, &a, t + 5 * USEC_PER_SEC - 1));
	ck_assert(!limiter_backing_off(l, &a, t + 5 * USEC_PER_SEC));
	limiter_note_success(l, &a, t);
	ck_assert(!limiter_backing_off(l, &a, t));
	limiter_note_failure(l, &a, &backoff, t);
	ck_assert(!limiter_backing_off(l, &a, t)); /* counting starts again */
	limiter_free(l);
}
END_TEST

START_TEST(failures_outside_the_window_do_not_count)
{
	struct limiter *l = limiter_new();
	struct source_key a = v4(1);

	limiter_note_failure(l, &a, &backoff, 1 * USEC_PER_SEC);
	limiter_note_failure(l, &a, &backoff, 2 * USEC_PER_SEC);
	limiter_note_failure(l, &a, &backoff, 70 * USEC_PER_SEC);
	ck_assert(!limiter_backing_off(l, &a, 70 * USEC_PER_SEC));
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
	limiter_note_failure(l, key, &backoff, now);
	limiter_note_failure(l, key, &backoff, now);
	return limiter_backing_off(l, key, now);
}

/* A full table forgets the idle source seen longest ago, where a connection
 * counts as being seen (it once recorded nothing), and keeps a source that
 * is backing off while an idle one remains. */
START_TEST(eviction_order)
{
	struct limiter *l = limiter_new();
	struct source_key blocked = v4(0), recent = v4(1), early = v4(2), k;
	const uint64_t late = 1000 * USEC_PER_SEC;

	for (unsigned i = 0; i < backoff.failures; i++)
		limiter_note_failure(l, &blocked, &backoff, 1);  /* the oldest record */
	limiter_note_failure(l, &recent, &backoff, 5);
	ck_assert_int_eq(limiter_conn_open(l, &recent, 100000, 10, late), 0); /* seen late */
	limiter_conn_close(l, &recent);
	limiter_note_failure(l, &early, &backoff, 10);
	for (unsigned i = 3; i < LIMITER_MAX_SOURCES; i++) {
		k = v4(i);
		limiter_note_failure(l, &k, &backoff, 1000 + i);
	}
	/* The table is full: a new source forgets `early`. */
	k = v4(LIMITER_MAX_SOURCES);
	ck_assert_int_eq(limiter_conn_open(l, &k, 100000, 10, 20), 0);
	limiter_conn_close(l, &k);
	ck_assert(limiter_backing_off(l, &blocked, 30));
	ck_assert(!remembered(l, &early, 30));
	ck_assert(remembered(l, &recent, 40));
	limiter_free(l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("limiter");
	TCase *tc = tcase_create("limiter");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, connection_caps);
	tcase_add_test(tc, backoff_doubles_up_to_max_and_success_clears);
	tcase_add_test(tc, failures_outside_the_window_do_not_count);
	tcase_add_test(tc, command_concurrency);
	tcase_add_test(tc, eviction_order);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
