/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of siotd's GPIO module on the simulated chip: resolution,
 * requesting, logical values with active_low, one action per line,
 * reconfiguring on reload without losing an output's value, releasing.
 * (Real chips are exercised in the vm suite.)
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gpio.h"

static struct gpio_line_decl decl(const char *name, unsigned offset, enum gpio_direction dir,
				  bool active_low, int initial)
{
	struct gpio_line_decl d = {
		.name = (char *)name,
		.chip = (char *)"sim",
		.chip_path = (char *)"sim",
		.offset = offset,
		.direction = dir,
		.active_low = active_low,
		.initial = initial,
	};
	return d;
}

START_TEST(resolve_sim)
{
	char *path = NULL, err[256];
	unsigned off = 99;

	ck_assert_int_eq(gpio_resolve("sim", NULL, 7, &path, &off, err, sizeof(err)), 0);
	ck_assert_str_eq(path, "sim");
	ck_assert_uint_eq(off, 7);
	free(path);
	ck_assert_int_eq(gpio_resolve("sim", "line12", 0, &path, &off, err, sizeof(err)), 0);
	ck_assert_uint_eq(off, 12);
	free(path);
	ck_assert_int_eq(gpio_resolve("sim", NULL, GPIO_SIM_LINES, &path, &off, err, sizeof(err)),
			 -ENOENT);
	ck_assert_int_eq(gpio_resolve("sim", "GPIO17", 0, &path, &off, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "line0"));
}
END_TEST

START_TEST(resolve_missing_chip)
{
	char *path = NULL, err[256];
	unsigned off;
	int r = gpio_resolve("no-such-chip-label", NULL, 0, &path, &off, err, sizeof(err));

	ck_assert(r == -ENODEV || r == -ENOTSUP);
	ck_assert_ptr_null(path);
}
END_TEST

START_TEST(set_get_active_low)
{
	struct gpio_line_decl d[2] = { decl("a", 1, GPIO_OUTPUT, false, 1),
				       decl("b", 2, GPIO_OUTPUT, true, 0) };
	char err[256];
	struct gpio_held *a, *b;
	int v = -1;

	ck_assert_int_eq(gpio_apply(d, 2, err, sizeof(err)), 0);
	a = gpio_lookup(&d[0]);
	b = gpio_lookup(&d[1]);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(gpio_get(a, &v), 0);
	ck_assert_int_eq(v, 1); /* initial */
	ck_assert_int_eq(gpio_get(b, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(gpio_set(b, 1), 0);
	ck_assert_int_eq(gpio_get(b, &v), 0);
	ck_assert_int_eq(v, 1);
	/* Reading an output does not change it. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(gpio_get(a, &v), 0);
		ck_assert_int_eq(v, 1);
	}
	gpio_release_all();
}
END_TEST

START_TEST(input_refuses_set)
{
	struct gpio_line_decl d = decl("in", 4, GPIO_INPUT, false, 0);
	char err[256];
	int v = -1;

	d.bias = GPIO_BIAS_PULL_UP;
	ck_assert_int_eq(gpio_apply(&d, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(gpio_set(gpio_lookup(&d), 1), -EPERM);
	ck_assert_int_eq(gpio_get(gpio_lookup(&d), &v), 0);
	ck_assert_int_eq(v, 1); /* the pull-up */
	gpio_release_all();
}
END_TEST

START_TEST(one_action_per_line)
{
	struct gpio_line_decl d = decl("x", 5, GPIO_OUTPUT, false, 0);
	char err[256];
	struct gpio_held *h;

	ck_assert_int_eq(gpio_apply(&d, 1, err, sizeof(err)), 0);
	h = gpio_lookup(&d);
	ck_assert_int_eq(gpio_acquire(h), 0);
	ck_assert_int_eq(gpio_acquire(h), -EBUSY);
	gpio_release(h);
	ck_assert_int_eq(gpio_acquire(h), 0);
	gpio_release(h);
	gpio_release_all();
}
END_TEST

/* A reload that keeps a line's settings leaves its value alone; one that
 * changes them re-requests it, and an output still keeps its value. */
START_TEST(reload_keeps_values)
{
	struct gpio_line_decl d = decl("lamp", 6, GPIO_OUTPUT, false, 0);
	struct gpio_line_decl d2 = decl("renamed", 6, GPIO_OUTPUT, false, 0);
	struct gpio_line_decl d3 = decl("renamed", 6, GPIO_OUTPUT, true, 0);
	struct gpio_line_decl other = decl("other", 7, GPIO_OUTPUT, false, 0);
	char err[256];
	int v;

	ck_assert_int_eq(gpio_apply(&d, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(gpio_set(gpio_lookup(&d), 1), 0);
	ck_assert_int_eq(gpio_apply(&d2, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(gpio_get(gpio_lookup(&d2), &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(gpio_apply(&d3, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(gpio_get(gpio_lookup(&d3), &v), 0);
	ck_assert_int_eq(v, 1); /* logical value kept across the change */
	/* Dropping the line releases it, unless an action holds it. */
	ck_assert_int_eq(gpio_apply(&other, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(gpio_acquire(gpio_lookup(&d3)), 0);
	gpio_release_unused(&other, 1);
	ck_assert_ptr_nonnull(gpio_lookup(&d3)); /* busy: kept until released */
	gpio_release(gpio_lookup(&d3));
	ck_assert_ptr_null(gpio_lookup(&d3));
	ck_assert_ptr_nonnull(gpio_lookup(&other));
	gpio_release_all();
	ck_assert_ptr_null(gpio_lookup(&other));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gpio");
	TCase *tc = tcase_create("sim");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, resolve_sim);
	tcase_add_test(tc, resolve_missing_chip);
	tcase_add_test(tc, set_get_active_low);
	tcase_add_test(tc, input_refuses_set);
	tcase_add_test(tc, one_action_per_line);
	tcase_add_test(tc, reload_keeps_values);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
