/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of siotd's challenge pool: bytes handed out are wiped from the
 * pool, never handed out twice, and a pool too short for a request is
 * refilled whole from a new seed.
 */
#include <check.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "randpool.h"
#include "check-run.h"

static bool all_zero(const uint8_t *b, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

START_TEST(takes_are_wiped_and_distinct)
{
	static struct randpool p;
	uint8_t a[32], b[32];

	randpool_init(&p);
	randpool_take(&p, a, sizeof(a));
	ck_assert_uint_eq(p.next, sizeof(a));
	ck_assert(all_zero(p.buf, sizeof(a)));             /* handed out: wiped */
	ck_assert(!all_zero(p.buf + 32, sizeof(p.buf) - 32)); /* the rest is there */
	randpool_take(&p, b, sizeof(b));
	ck_assert_uint_eq(p.next, 64);
	ck_assert(memcmp(a, b, sizeof(a)) != 0);
	ck_assert(!all_zero(a, sizeof(a)) && !all_zero(b, sizeof(b)));
}
END_TEST

START_TEST(short_pool_is_refilled_from_a_new_seed)
{
	static struct randpool p;
	static uint8_t seen[RANDPOOL_SIZE / 64 * 2][64];
	unsigned n = 0;

	randpool_init(&p);
	/* 64-byte takes over two fills, then one that does not fit the rest. */
	for (; n < RANDPOOL_SIZE / 64 * 2; n++)
		randpool_take(&p, seen[n], 64);
	ck_assert_uint_eq(p.next, RANDPOOL_SIZE);
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			ck_assert(memcmp(seen[i], seen[j], 64) != 0);

	p.next = RANDPOOL_SIZE - 10; /* 10 left: a 16-byte take refills */
	{
		uint8_t c[16];
		randpool_take(&p, c, sizeof(c));
		ck_assert_uint_eq(p.next, sizeof(c));
		for (unsigned i = 0; i < n; i++)
			ck_assert(memcmp(seen[i], c, sizeof(c)) != 0);
	}
}
END_TEST

START_TEST(a_take_larger_than_the_pool_bypasses_it)
{
	static struct randpool p;
	static uint8_t big[RANDPOOL_SIZE + 64];
	uint8_t a[16];

	randpool_init(&p);
	randpool_take(&p, a, sizeof(a));
	randpool_take(&p, big, sizeof(big));
	ck_assert(!all_zero(big + RANDPOOL_SIZE, 64)); /* filled to the end */
	ck_assert_uint_eq(p.next, sizeof(a));           /* the pool untouched */
}
END_TEST

START_TEST(wipe_empties_the_pool)
{
	static struct randpool p;
	uint8_t a[16];

	randpool_init(&p);
	randpool_take(&p, a, sizeof(a));
	randpool_wipe(&p);
	ck_assert(all_zero(p.buf, sizeof(p.buf)));
	ck_assert_uint_eq(p.next, RANDPOOL_SIZE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("randpool");
	TCase *tc = tcase_create("randpool");

	if (sodium_init() < 0)
		return 1;
	tcase_add_test(tc, takes_are_wiped_and_distinct);
	tcase_add_test(tc, short_pool_is_refilled_from_a_new_seed);
	tcase_add_test(tc, a_take_larger_than_the_pool_bypasses_it);
	tcase_add_test(tc, wipe_empties_the_pool);
	suite_add_tcase(s, tc);
	return check_run(s);
}
