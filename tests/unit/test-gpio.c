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
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gpio.h"
#include "check-run.h"

static struct gpio_registry *reg;

static void setup(void)
{
	reg = gpio_registry_new(NULL);
	ck_assert_ptr_nonnull(reg);
}

static void teardown(void)
{
	gpio_registry_free(reg);
	reg = NULL;
}

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

	ck_assert_int_eq(gpio_apply(reg, d, 2, err, sizeof(err)), 0);
	a = gpio_lookup(reg, &d[0]);
	b = gpio_lookup(reg, &d[1]);
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
}
END_TEST

START_TEST(input_refuses_set)
{
	struct gpio_line_decl d = decl("in", 4, GPIO_INPUT, false, 0);
	char err[256];
	int v = -1;

	d.bias = GPIO_BIAS_PULL_UP;
	ck_assert_int_eq(gpio_apply(reg, &d, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(gpio_set(gpio_lookup(reg, &d), 1), -EPERM);
	ck_assert_int_eq(gpio_get(gpio_lookup(reg, &d), &v), 0);
	ck_assert_int_eq(v, 1); /* the pull-up */
}
END_TEST

START_TEST(one_action_per_line)
{
	struct gpio_line_decl d = decl("x", 5, GPIO_OUTPUT, false, 0);
	char err[256];
	struct gpio_held *h;

	ck_assert_int_eq(gpio_apply(reg, &d, 1, err, sizeof(err)), 0);
	h = gpio_lookup(reg, &d);
	ck_assert_int_eq(gpio_acquire(h), 0);
	ck_assert_int_eq(gpio_acquire(h), -EBUSY);
	gpio_release(h);
	ck_assert_int_eq(gpio_acquire(h), 0);
	gpio_release(h);
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

	ck_assert_int_eq(gpio_apply(reg, &d, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(gpio_set(gpio_lookup(reg, &d), 1), 0);
	ck_assert_int_eq(gpio_apply(reg, &d2, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(gpio_get(gpio_lookup(reg, &d2), &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(gpio_apply(reg, &d3, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(gpio_get(gpio_lookup(reg, &d3), &v), 0);
	ck_assert_int_eq(v, 1); /* logical value kept across the change */
	/* Dropping the line releases it, unless an action holds it. */
	ck_assert_int_eq(gpio_apply(reg, &other, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(gpio_acquire(gpio_lookup(reg, &d3)), 0);
	gpio_release_undeclared(reg, &other, 1);
	ck_assert_ptr_nonnull(gpio_lookup(reg, &d3)); /* busy: kept until released */
	gpio_release(gpio_lookup(reg, &d3));
	ck_assert_ptr_null(gpio_lookup(reg, &d3));
	ck_assert_ptr_nonnull(gpio_lookup(reg, &other));
	gpio_release_undeclared(reg, NULL, 0);
	ck_assert_ptr_null(gpio_lookup(reg, &other));
}
END_TEST

/* With a folder, the sim chip publishes physical levels and reads inputs
 * there; the folder is the one given when the registry was made. */
START_TEST(sim_folder)
{
	char dir[] = "/tmp/siot-gpio-test-XXXXXX", path[128], buf[8] = "";
	struct gpio_line_decl out = decl("out", 9, GPIO_OUTPUT, true, 1);
	struct gpio_line_decl in = decl("in", 10, GPIO_INPUT, false, 0);
	struct gpio_line_decl both[2];
	struct gpio_registry *r2;
	char err[256];
	FILE *f;
	int v = -1;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	r2 = gpio_registry_new(dir);
	ck_assert_ptr_nonnull(r2);
	both[0] = out;
	both[1] = in;
	ck_assert_int_eq(gpio_apply(r2, both, 2, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/line9", dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "0\n"); /* logical 1 on an active-low line */
	snprintf(path, sizeof(path), "%s/line10.in", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("1\n", f);
	fclose(f);
	ck_assert_int_eq(gpio_get(gpio_lookup(r2, &in), &v), 0);
	ck_assert_int_eq(v, 1);
	gpio_registry_free(r2);
	unlink(path);
	snprintf(path, sizeof(path), "%s/line9", dir);
	unlink(path);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gpio");
	TCase *tc = tcase_create("sim");

	tcase_add_test(tc, resolve_sim);
	tcase_add_test(tc, resolve_missing_chip);
	tcase_add_test(tc, set_get_active_low);
	tcase_add_test(tc, input_refuses_set);
	tcase_add_test(tc, one_action_per_line);
	tcase_add_test(tc, reload_keeps_values);
	tcase_add_test(tc, sim_folder);
	tcase_add_checked_fixture(tc, setup, teardown);
	suite_add_tcase(s, tc);
	return check_run(s);
}
