/* SPDX-License-Identifier: MIT */
/*
 * The libgpiod v2 backend (gpio_libgpiod.c) against a stand-in libgpiod.
 *
 * A real kernel chip (gpio-sim) drives this backend in the vm suite; the
 * host has no GPIO chips.  This unit test checks what that one cannot
 * provoke: how each setting of a line declaration becomes libgpiod line
 * settings, how a reconfigure keeps an output's level, how chips are found
 * by path, name and label, and that every libgpiod failure becomes an
 * error with its errno and a message, never a half-held line.
 *
 * The stand-in implements the libgpiod functions the backend calls, with
 * the prototypes of the real <gpiod.h>, over a table of chips.  Chip
 * devices are looked up in a temporary folder standing in for /dev.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gpiod.h>

static char fake_dev[64];
#define GPIO_DEV_DIR fake_dev
#include "gpio_libgpiod.c"

#include "check-run.h"

/* ---- the stand-in libgpiod ---- */

struct fake_chip {
	const char *file; /* under fake_dev */
	const char *label;
	size_t lines;
	const char *names[4];
};

static const struct fake_chip chips[] = {
	{ "gpiochip0", "pinctrl-bcm2711", 58, { "GPIO17", "GPIO27" } },
	{ "gpiochip1", "raspberrypi-exp-gpio", 8, { "LAN_RUN" } },
};

struct gpiod_chip {
	const struct fake_chip *c;
};
struct gpiod_chip_info {
	const struct fake_chip *c;
};
struct gpiod_line_settings {
	enum gpiod_line_direction direction;
	enum gpiod_line_bias bias;
	enum gpiod_line_drive drive;
	bool active_low;
	enum gpiod_line_value value;
};
struct gpiod_line_config {
	unsigned offset;
	struct gpiod_line_settings s;
	int n;
};
struct gpiod_request_config {
	char consumer[32];
};
struct gpiod_line_request {
	const struct fake_chip *c;
	unsigned offset;
	struct gpiod_line_settings s;
	char consumer[32];
};

/* Failure injection: the named function fails once with fail_errno. */
static const char *fail_fn;
static int fail_errno;
static int open_chips, open_requests, open_infos, open_settings, open_configs;
static struct gpiod_line_request *last_request;

static bool failing(const char *fn)
{
	if (fail_fn && strcmp(fail_fn, fn) == 0) {
		fail_fn = NULL;
		errno = fail_errno;
		return true;
	}
	return false;
}

static const struct fake_chip *chip_at(const char *path)
{
	size_t n = strlen(fake_dev);

	if (strncmp(path, fake_dev, n) != 0 || path[n] != '/')
		return NULL;
	for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++)
		if (strcmp(path + n + 1, chips[i].file) == 0)
			return &chips[i];
	return NULL;
}

bool gpiod_is_gpiochip_device(const char *path)
{
	return chip_at(path) != NULL;
}

struct gpiod_chip *gpiod_chip_open(const char *path)
{
	const struct fake_chip *c = chip_at(path);
	struct gpiod_chip *chip;

	if (failing("gpiod_chip_open"))
		return NULL;
	if (!c) {
		errno = ENODEV;
		return NULL;
	}
	chip = malloc(sizeof(*chip));
	chip->c = c;
	open_chips++;
	return chip;
}

void gpiod_chip_close(struct gpiod_chip *chip)
{
	if (chip)
		open_chips--;
	free(chip);
}

struct gpiod_chip_info *gpiod_chip_get_info(struct gpiod_chip *chip)
{
	struct gpiod_chip_info *info;

	if (failing("gpiod_chip_get_info"))
		return NULL;
	info = malloc(sizeof(*info));
	info->c = chip->c;
	open_infos++;
	return info;
}

void gpiod_chip_info_free(struct gpiod_chip_info *info)
{
	if (info)
		open_infos--;
	free(info);
}

const char *gpiod_chip_info_get_label(struct gpiod_chip_info *info)
{
	return info->c->label;
}

size_t gpiod_chip_info_get_num_lines(struct gpiod_chip_info *info)
{
	return info->c->lines;
}

int gpiod_chip_get_line_offset_from_name(struct gpiod_chip *chip, const char *name)
{
	for (int i = 0; i < 4 && chip->c->names[i]; i++)
		if (strcmp(chip->c->names[i], name) == 0)
			return i;
	errno = ENOENT;
	return -1;
}

struct gpiod_line_settings *gpiod_line_settings_new(void)
{
	struct gpiod_line_settings *s;

	if (failing("gpiod_line_settings_new"))
		return NULL;
	s = calloc(1, sizeof(*s));
	open_settings++;
	return s;
}

void gpiod_line_settings_free(struct gpiod_line_settings *s)
{
	if (s)
		open_settings--;
	free(s);
}

int gpiod_line_settings_set_direction(struct gpiod_line_settings *s,
				      enum gpiod_line_direction direction)
{
	if (failing("gpiod_line_settings_set_direction"))
		return -1;
	s->direction = direction;
	return 0;
}

int gpiod_line_settings_set_bias(struct gpiod_line_settings *s, enum gpiod_line_bias bias)
{
	if (failing("gpiod_line_settings_set_bias"))
		return -1;
	s->bias = bias;
	return 0;
}

int gpiod_line_settings_set_drive(struct gpiod_line_settings *s, enum gpiod_line_drive drive)
{
	if (failing("gpiod_line_settings_set_drive"))
		return -1;
	s->drive = drive;
	return 0;
}

void gpiod_line_settings_set_active_low(struct gpiod_line_settings *s, bool active_low)
{
	s->active_low = active_low;
}

int gpiod_line_settings_set_output_value(struct gpiod_line_settings *s,
					 enum gpiod_line_value value)
{
	s->value = value;
	return 0;
}

struct gpiod_line_config *gpiod_line_config_new(void)
{
	struct gpiod_line_config *lc;

	if (failing("gpiod_line_config_new"))
		return NULL;
	lc = calloc(1, sizeof(*lc));
	open_configs++;
	return lc;
}

void gpiod_line_config_free(struct gpiod_line_config *lc)
{
	if (lc)
		open_configs--;
	free(lc);
}

int gpiod_line_config_add_line_settings(struct gpiod_line_config *lc, const unsigned int *offsets,
					size_t num_offsets, struct gpiod_line_settings *s)
{
	if (failing("gpiod_line_config_add_line_settings"))
		return -1;
	ck_assert_uint_eq(num_offsets, 1);
	lc->offset = offsets[0];
	lc->s = *s;
	lc->n++;
	return 0;
}

struct gpiod_request_config *gpiod_request_config_new(void)
{
	if (failing("gpiod_request_config_new"))
		return NULL;
	return calloc(1, sizeof(struct gpiod_request_config));
}

void gpiod_request_config_free(struct gpiod_request_config *rc)
{
	free(rc);
}

void gpiod_request_config_set_consumer(struct gpiod_request_config *rc, const char *consumer)
{
	snprintf(rc->consumer, sizeof(rc->consumer), "%s", consumer);
}

struct gpiod_line_request *gpiod_chip_request_lines(struct gpiod_chip *chip,
						    struct gpiod_request_config *rc,
						    struct gpiod_line_config *lc)
{
	struct gpiod_line_request *req;

	if (failing("gpiod_chip_request_lines"))
		return NULL;
	ck_assert_int_eq(lc->n, 1);
	req = calloc(1, sizeof(*req));
	req->c = chip->c;
	req->offset = lc->offset;
	req->s = lc->s;
	snprintf(req->consumer, sizeof(req->consumer), "%s", rc->consumer);
	open_requests++;
	last_request = req;
	return req;
}

int gpiod_line_request_reconfigure_lines(struct gpiod_line_request *req,
					 struct gpiod_line_config *lc)
{
	if (failing("gpiod_line_request_reconfigure_lines"))
		return -1;
	ck_assert_uint_eq(lc->offset, req->offset);
	req->s = lc->s;
	return 0;
}

void gpiod_line_request_release(struct gpiod_line_request *req)
{
	if (req)
		open_requests--;
	if (req == last_request)
		last_request = NULL;
	free(req);
}

enum gpiod_line_value gpiod_line_request_get_value(struct gpiod_line_request *req,
						   unsigned int offset)
{
	if (failing("gpiod_line_request_get_value"))
		return GPIOD_LINE_VALUE_ERROR;
	ck_assert_uint_eq(offset, req->offset);
	return req->s.value;
}

int gpiod_line_request_set_value(struct gpiod_line_request *req, unsigned int offset,
				 enum gpiod_line_value value)
{
	if (failing("gpiod_line_request_set_value"))
		return -1;
	ck_assert_uint_eq(offset, req->offset);
	req->s.value = value;
	return 0;
}

/* ---- the tests ---- */

static void setup(void)
{
	char path[128];

	snprintf(fake_dev, sizeof(fake_dev), "/tmp/siot-fake-dev-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fake_dev));
	/* The chips' device files, and one that is not a chip. */
	for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fake_dev, chips[i].file);
		fclose(fopen(path, "w"));
	}
	snprintf(path, sizeof(path), "%s/gpiochip9", fake_dev);
	fclose(fopen(path, "w"));
	fail_fn = NULL;
	open_chips = open_requests = open_infos = open_settings = open_configs = 0;
}

static void teardown(void)
{
	char cmd[128];

	/* Nothing the backend opened is left open. */
	ck_assert_int_eq(open_chips, 0);
	ck_assert_int_eq(open_infos, 0);
	ck_assert_int_eq(open_settings, 0);
	ck_assert_int_eq(open_configs, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake_dev);
	ck_assert_int_eq(system(cmd), 0);
}

static int resolve(const char *chip, const char *line_name, unsigned offset_in, char **path,
		   unsigned *offset, char *err)
{
	*path = NULL;
	err[0] = '\0';
	return gpio_chip_backend.resolve(chip, line_name, offset_in, path, offset, err, 256);
}

static char *dev(const char *file)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", fake_dev, file);
	return path;
}

START_TEST(resolve_by_path_name_and_label)
{
	char err[256], *path;
	unsigned off;

	ck_assert_int_eq(resolve(dev("gpiochip0"), NULL, 17, &path, &off, err), 0);
	ck_assert_str_eq(path, dev("gpiochip0"));
	ck_assert_uint_eq(off, 17);
	free(path);

	ck_assert_int_eq(resolve("gpiochip1", NULL, 3, &path, &off, err), 0);
	ck_assert_str_eq(path, dev("gpiochip1"));
	free(path);

	/* A label, found by opening each chip device under the folder. */
	ck_assert_int_eq(resolve("raspberrypi-exp-gpio", "LAN_RUN", 0, &path, &off, err), 0);
	ck_assert_str_eq(path, dev("gpiochip1"));
	ck_assert_uint_eq(off, 0);
	free(path);

	ck_assert_int_eq(resolve("pinctrl-bcm2711", "GPIO27", 0, &path, &off, err), 0);
	ck_assert_str_eq(path, dev("gpiochip0"));
	ck_assert_uint_eq(off, 1);
	free(path);
}
END_TEST

START_TEST(resolve_errors_say_what_is_wrong)
{
	char err[256], *path;
	unsigned off;

	ck_assert_int_eq(resolve("nosuchchip", NULL, 0, &path, &off, err), -ENODEV);
	ck_assert_str_eq(err, "no GPIO chip \"nosuchchip\" (give a path, a name such as "
			      "gpiochip0, or a label)");
	ck_assert_ptr_null(path);
	/* An absolute path that is not a chip device. */
	ck_assert_int_eq(resolve(dev("gpiochip9"), NULL, 0, &path, &off, err), -ENODEV);
	/* A name with a slash is not looked up under the folder. */
	ck_assert_int_eq(resolve("x/gpiochip0", NULL, 0, &path, &off, err), -ENODEV);

	ck_assert_int_eq(resolve("gpiochip1", NULL, 8, &path, &off, err), -ENOENT);
	ck_assert_msg(strstr(err, "has lines 0 .. 7, not 8"), "%s", err);
	ck_assert_ptr_null(path);

	ck_assert_int_eq(resolve("gpiochip0", "GPIO99", 0, &path, &off, err), -ENOENT);
	ck_assert_msg(strstr(err, "has no line named \"GPIO99\""), "%s", err);

	fail_fn = "gpiod_chip_open";
	fail_errno = EACCES;
	ck_assert_int_eq(resolve("gpiochip0", NULL, 0, &path, &off, err), -ENODEV);
	ck_assert_msg(strstr(err, "Permission denied"), "%s", err);

	/* No chip information: no line offset can be checked. */
	fail_fn = "gpiod_chip_get_info";
	fail_errno = ENOMEM;
	ck_assert_int_eq(resolve("gpiochip0", NULL, 0, &path, &off, err), -ENOENT);
	ck_assert_msg(strstr(err, "has lines 0 .. 0, not 0"), "%s", err);
}
END_TEST

static struct gpio_line_decl output_decl(unsigned offset)
{
	return (struct gpio_line_decl){
		.name = "relay", .chip = "gpiochip0", .chip_path = dev("gpiochip0"),
		.offset = offset, .direction = GPIO_OUTPUT, .active_low = true,
		.bias = GPIO_BIAS_PULL_UP, .drive = GPIO_DRIVE_OPEN_DRAIN, .initial = 1,
	};
}

static struct gpio_held held_for(const struct gpio_line_decl *d)
{
	return (struct gpio_held){ .backend = &gpio_chip_backend, .chip_path = d->chip_path,
				   .offset = d->offset };
}

START_TEST(settings_become_libgpiod_settings)
{
	struct gpio_line_decl d = output_decl(17);
	struct gpio_held h = held_for(&d);
	struct gpiod_line_request *req;
	int v;

	ck_assert_int_eq(gpio_chip_backend.configure(&h, &d, false), 0);
	req = last_request;
	ck_assert_ptr_eq(h.chip, req);
	ck_assert_str_eq(req->consumer, GPIO_CONSUMER);
	ck_assert_uint_eq(req->offset, 17);
	ck_assert_int_eq(req->s.direction, GPIOD_LINE_DIRECTION_OUTPUT);
	ck_assert_int_eq(req->s.bias, GPIOD_LINE_BIAS_PULL_UP);
	ck_assert_int_eq(req->s.drive, GPIOD_LINE_DRIVE_OPEN_DRAIN);
	ck_assert(req->s.active_low);
	ck_assert_int_eq(req->s.value, GPIOD_LINE_VALUE_ACTIVE); /* initial = 1 */
	ck_assert(h.d.active_low);                                /* kept in h */

	ck_assert_int_eq(gpio_chip_backend.set(&h, 0), 0);
	ck_assert_int_eq(req->s.value, GPIOD_LINE_VALUE_INACTIVE);
	ck_assert_int_eq(gpio_chip_backend.get(&h, &v), 0);
	ck_assert_int_eq(v, 0);

	/* A reload that keeps the value: the level stays 0, not initial's 1,
	 * and the new settings replace the old on the same request. */
	d.drive = GPIO_DRIVE_OPEN_SOURCE;
	d.bias = GPIO_BIAS_DISABLED;
	ck_assert_int_eq(gpio_chip_backend.configure(&h, &d, true), 0);
	ck_assert_ptr_eq(h.chip, req);
	ck_assert_int_eq(req->s.value, GPIOD_LINE_VALUE_INACTIVE);
	ck_assert_int_eq(req->s.drive, GPIOD_LINE_DRIVE_OPEN_SOURCE);
	ck_assert_int_eq(req->s.bias, GPIOD_LINE_BIAS_DISABLED);

	/* keep_value when the level cannot be read: initial is used. */
	fail_fn = "gpiod_line_request_get_value";
	fail_errno = EIO;
	ck_assert_int_eq(gpio_chip_backend.configure(&h, &d, true), 0);
	ck_assert_int_eq(req->s.value, GPIOD_LINE_VALUE_ACTIVE);

	/* Reconfigured as an input with a pull-down. */
	d.direction = GPIO_INPUT;
	d.bias = GPIO_BIAS_PULL_DOWN;
	d.active_low = false;
	ck_assert_int_eq(gpio_chip_backend.configure(&h, &d, false), 0);
	ck_assert_int_eq(req->s.direction, GPIOD_LINE_DIRECTION_INPUT);
	ck_assert_int_eq(req->s.bias, GPIOD_LINE_BIAS_PULL_DOWN);
	ck_assert(!req->s.active_low);

	gpio_chip_backend.release(&h);
	ck_assert_ptr_null(h.chip);
	ck_assert_int_eq(open_requests, 0);
	gpio_chip_backend.release(&h); /* twice is harmless */
}
END_TEST

/* Each libgpiod call that can fail, failing: an error with its errno, no
 * request held or leaked, and the held settings unchanged. */
START_TEST(every_failure_is_an_error_and_holds_nothing)
{
	static const struct {
		const char *fn;
		int expect;
	} cases[] = {
		{ "gpiod_line_settings_new", -EINVAL },
		{ "gpiod_line_config_new", -EINVAL },
		{ "gpiod_line_settings_set_bias", -EINVAL },
		{ "gpiod_line_settings_set_direction", -EINVAL },
		{ "gpiod_line_settings_set_drive", -EINVAL },
		{ "gpiod_line_config_add_line_settings", -EINVAL },
		{ "gpiod_chip_open", -EBUSY },
		{ "gpiod_request_config_new", -EBUSY },
		{ "gpiod_chip_request_lines", -EBUSY },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gpio_line_decl d = output_decl(5);
		struct gpio_held h = held_for(&d);

		fail_fn = cases[i].fn;
		fail_errno = EBUSY;
		errno = EBUSY; /* what a failing allocation leaves is not ours to pick */
		ck_assert_msg(gpio_chip_backend.configure(&h, &d, false) == cases[i].expect,
			      "%s", cases[i].fn);
		ck_assert_msg(fail_fn == NULL, "%s was never called", cases[i].fn);
		ck_assert_ptr_null(h.chip);
		ck_assert_int_eq(open_requests, 0);
		ck_assert_int_eq(open_chips, 0);
	}
}
END_TEST

START_TEST(failures_on_a_held_line)
{
	struct gpio_line_decl d = output_decl(2);
	struct gpio_held h = held_for(&d);
	int v = 7;

	ck_assert_int_eq(gpio_chip_backend.configure(&h, &d, false), 0);
	fail_fn = "gpiod_line_request_reconfigure_lines";
	fail_errno = EPERM;
	d.active_low = false;
	ck_assert_int_eq(gpio_chip_backend.configure(&h, &d, false), -EPERM);
	ck_assert(h.d.active_low); /* the settings in force are still the old ones */

	fail_fn = "gpiod_line_request_get_value";
	fail_errno = EIO;
	ck_assert_int_eq(gpio_chip_backend.get(&h, &v), -EIO);
	ck_assert_int_eq(v, 7);
	fail_fn = "gpiod_line_request_set_value";
	fail_errno = ENODEV;
	ck_assert_int_eq(gpio_chip_backend.set(&h, 1), -ENODEV);
	gpio_chip_backend.release(&h);
}
END_TEST

/* Through the registry, as siotd uses it: resolve, apply, act, release. */
START_TEST(registry_over_libgpiod)
{
	struct gpio_registry *reg = gpio_registry_new(NULL);
	struct gpio_line_decl d = output_decl(0);
	struct gpio_held *h;
	char err[256] = "";
	int v;

	ck_assert_int_eq(gpio_resolve("pinctrl-bcm2711", "GPIO27", 0, &d.chip_path, &d.offset, err,
				      sizeof(err)),
			 0);
	ck_assert_int_eq(gpio_apply(reg, &d, 1, err, sizeof(err)), 0);
	h = gpio_lookup(reg, &d);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(gpio_acquire(h), 0);
	ck_assert_int_eq(gpio_get(h, &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(gpio_set(h, 0), 0);
	ck_assert_int_eq(last_request->s.value, GPIOD_LINE_VALUE_INACTIVE);
	gpio_release(h);
	gpio_release_undeclared(reg, NULL, 0);
	ck_assert_int_eq(open_requests, 0);
	free(d.chip_path);
	gpio_registry_free(reg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gpio-libgpiod");
	TCase *tc = tcase_create("backend");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, resolve_by_path_name_and_label);
	tcase_add_test(tc, resolve_errors_say_what_is_wrong);
	tcase_add_test(tc, settings_become_libgpiod_settings);
	tcase_add_test(tc, every_failure_is_an_error_and_holds_nothing);
	tcase_add_test(tc, failures_on_a_held_line);
	tcase_add_test(tc, registry_over_libgpiod);
	suite_add_tcase(s, tc);
	return check_run(s);
}
