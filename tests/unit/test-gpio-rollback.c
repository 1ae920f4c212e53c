/* SPDX-License-Identifier: MIT */
/*
 * The GPIO registry's rollback: when a reload's gpio_apply fails part-way,
 * every line it touched gets its previous settings back.  Real chips rarely
 * fail on demand, so this test links gpio.c with a stand-in chip backend
 * (the only mock in the GPIO tests; the sim and libgpiod backends are
 * exercised for real elsewhere) that refuses any request for offset 99.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gpio_backend.h"
#include "check-run.h"

/* The stand-in chip: one level and direction per offset. */
static int level[128];
static enum gpio_direction dir[128];
static unsigned configures;

static int fake_resolve(const char *chip, const char *line_name, unsigned offset_in,
			char **chip_path, unsigned *offset, char *err, size_t errlen)
{
	(void)chip;
	(void)line_name;
	(void)err;
	(void)errlen;
	*chip_path = strdup("/dev/fake");
	*offset = offset_in;
	return 0;
}

static int fake_configure(struct gpio_held *h, const struct gpio_line_decl *d, bool keep_value)
{
	configures++;
	if (d->offset == 99)
		return -EIO;
	if (!keep_value)
		level[d->offset] = d->initial;
	dir[d->offset] = d->direction;
	h->chip = &level[d->offset];
	gpio_keep_settings(h, d);
	return 0;
}

static int fake_get(struct gpio_held *h, int *value)
{
	*value = level[h->offset];
	return 0;
}

static int fake_set(struct gpio_held *h, int value)
{
	level[h->offset] = value;
	return 0;
}

static void fake_release(struct gpio_held *h)
{
	(void)h;
}

const struct gpio_backend gpio_chip_backend = {
	.resolve = fake_resolve,
	.configure = fake_configure,
	.get = fake_get,
	.set = fake_set,
	.release = fake_release,
};

static struct gpio_line_decl line(const char *name, unsigned offset, enum gpio_direction d,
				  int initial)
{
	return (struct gpio_line_decl){ .name = (char *)name, .chip = (char *)"fake",
					.chip_path = (char *)"/dev/fake", .offset = offset,
					.direction = d, .initial = initial };
}

START_TEST(failed_reload_restores_reconfigured_lines)
{
	struct gpio_registry *reg = gpio_registry_new(NULL);
	struct gpio_line_decl first[2] = { line("a", 1, GPIO_OUTPUT, 0),
					   line("b", 2, GPIO_OUTPUT, 0) };
	struct gpio_line_decl second[3] = { line("a", 1, GPIO_INPUT, 0),
					    line("b", 2, GPIO_OUTPUT, 0),
					    line("bad", 99, GPIO_OUTPUT, 0) };
	char err[256];

	ck_assert_int_eq(gpio_apply(reg, first, 2, err, sizeof(err)), 0);
	ck_assert_int_eq(gpio_set(gpio_lookup(reg, &first[0]), 1), 0);
	configures = 0;
	ck_assert_int_lt(gpio_apply(reg, second, 3, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "bad"));
	/* "a" was turned into an input, then put back: an output at 1. */
	ck_assert_uint_ge(configures, 3);
	ck_assert_int_eq(dir[1], GPIO_OUTPUT);
	ck_assert_int_eq(level[1], 1);
	ck_assert_int_eq(gpio_set(gpio_lookup(reg, &first[0]), 0), 0); /* still an output */
	ck_assert_ptr_null(gpio_lookup(reg, &second[2]));
	gpio_registry_free(reg);
}
END_TEST

/* A reload while an action holds the line waits for the action's end. */
START_TEST(change_waits_for_the_action)
{
	struct gpio_registry *reg = gpio_registry_new(NULL);
	struct gpio_line_decl out = line("p", 3, GPIO_OUTPUT, 0);
	struct gpio_line_decl in = line("p", 3, GPIO_INPUT, 0);
	struct gpio_held *h;
	char err[256];

	ck_assert_int_eq(gpio_apply(reg, &out, 1, err, sizeof(err)), 0);
	h = gpio_lookup(reg, &out);
	ck_assert_int_eq(gpio_acquire(h), 0);
	ck_assert_int_eq(gpio_set(h, 1), 0); /* a pulse starts */
	ck_assert_int_eq(gpio_apply(reg, &in, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(dir[3], GPIO_OUTPUT);
	ck_assert_int_eq(gpio_set(h, 0), 0); /* ...and ends as it began */
	ck_assert_int_eq(gpio_release(h), 0);
	ck_assert_int_eq(dir[3], GPIO_INPUT); /* now the reload's settings */
	ck_assert_int_eq(gpio_set(h, 1), -EPERM);
	gpio_registry_free(reg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gpio-rollback");
	TCase *tc = tcase_create("registry");

	tcase_add_test(tc, failed_reload_restores_reconfigured_lines);
	tcase_add_test(tc, change_waits_for_the_action);
	suite_add_tcase(s, tc);
	return check_run(s);
}
