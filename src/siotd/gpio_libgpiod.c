/* SPDX-License-Identifier: MIT */
/* Real chips through libgpiod v2: one line request per held line. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpiod.h>

#include "gpio_backend.h"

#ifndef GPIO_DEV_DIR
#define GPIO_DEV_DIR "/dev" /* where chips are looked for by name and label */
#endif

static struct gpiod_line_config *line_config(const struct gpio_line_decl *d, int logical)
{
	static const enum gpiod_line_bias bias[] = {
		[GPIO_BIAS_AS_IS] = GPIOD_LINE_BIAS_AS_IS,
		[GPIO_BIAS_DISABLED] = GPIOD_LINE_BIAS_DISABLED,
		[GPIO_BIAS_PULL_UP] = GPIOD_LINE_BIAS_PULL_UP,
		[GPIO_BIAS_PULL_DOWN] = GPIOD_LINE_BIAS_PULL_DOWN,
	};
	static const enum gpiod_line_drive drive[] = {
		[GPIO_DRIVE_PUSH_PULL] = GPIOD_LINE_DRIVE_PUSH_PULL,
		[GPIO_DRIVE_OPEN_DRAIN] = GPIOD_LINE_DRIVE_OPEN_DRAIN,
		[GPIO_DRIVE_OPEN_SOURCE] = GPIOD_LINE_DRIVE_OPEN_SOURCE,
	};
	struct gpiod_line_settings *s = gpiod_line_settings_new();
	struct gpiod_line_config *lc = gpiod_line_config_new();
	unsigned offset = d->offset;
	bool ok = s && lc;

	if (ok) {
		gpiod_line_settings_set_active_low(s, d->active_low);
		ok = gpiod_line_settings_set_bias(s, bias[d->bias]) == 0;
		if (d->direction == GPIO_OUTPUT) {
			ok = ok &&
			     gpiod_line_settings_set_direction(s, GPIOD_LINE_DIRECTION_OUTPUT) == 0 &&
			     gpiod_line_settings_set_drive(s, drive[d->drive]) == 0 &&
			     gpiod_line_settings_set_output_value(
				     s, logical ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE) == 0;
		} else {
			ok = ok && gpiod_line_settings_set_direction(s, GPIOD_LINE_DIRECTION_INPUT) == 0;
		}
		ok = ok && gpiod_line_config_add_line_settings(lc, &offset, 1, s) == 0;
	}
	gpiod_line_settings_free(s);
	if (!ok) {
		gpiod_line_config_free(lc);
		return NULL;
	}
	return lc;
}

static int lg_get(struct gpio_held *h, int *value)
{
	enum gpiod_line_value v = gpiod_line_request_get_value(h->chip, h->offset);

	if (v == GPIOD_LINE_VALUE_ERROR)
		return -errno;
	*value = v == GPIOD_LINE_VALUE_ACTIVE;
	return 0;
}

static int lg_set(struct gpio_held *h, int value)
{
	if (gpiod_line_request_set_value(h->chip, h->offset,
					 value ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE) < 0)
		return -errno;
	return 0;
}

static struct gpiod_line_request *request(const char *chip_path, struct gpiod_line_config *lc)
{
	struct gpiod_chip *chip = gpiod_chip_open(chip_path);
	struct gpiod_request_config *rc = gpiod_request_config_new();
	struct gpiod_line_request *req = NULL;
	int saved;

	if (chip && rc) {
		gpiod_request_config_set_consumer(rc, GPIO_CONSUMER);
		req = gpiod_chip_request_lines(chip, rc, lc);
	}
	saved = errno;
	gpiod_request_config_free(rc);
	if (chip)
		gpiod_chip_close(chip);
	errno = saved;
	return req;
}

static int lg_configure(struct gpio_held *h, const struct gpio_line_decl *d, bool keep_value)
{
	struct gpiod_line_config *lc;
	int logical = d->initial, r = 0;

	if (keep_value && h->chip && lg_get(h, &logical) < 0)
		logical = d->initial;
	lc = line_config(d, logical);
	if (!lc)
		return -EINVAL;
	if (h->chip) {
		if (gpiod_line_request_reconfigure_lines(h->chip, lc) < 0)
			r = -errno;
	} else {
		h->chip = request(h->chip_path, lc);
		if (!h->chip)
			r = -errno;
	}
	gpiod_line_config_free(lc);
	if (r == 0)
		gpio_keep_settings(h, d);
	return r;
}

static void lg_release(struct gpio_held *h)
{
	if (h->chip)
		gpiod_line_request_release(h->chip);
	h->chip = NULL;
}

/* Find the chip: a path, /dev/NAME, or a label among /dev/gpiochip*. */
static char *find_chip(const char *chip)
{
	char path[400];
	DIR *dir;
	struct dirent *e;
	char *found = NULL;

	if (chip[0] == '/')
		return gpiod_is_gpiochip_device(chip) ? strdup(chip) : NULL;
	snprintf(path, sizeof(path), "%s/%s", GPIO_DEV_DIR, chip);
	if (!strchr(chip, '/') && gpiod_is_gpiochip_device(path))
		return strdup(path);
	dir = opendir(GPIO_DEV_DIR);
	while (dir && !found && (e = readdir(dir))) {
		struct gpiod_chip *c;
		struct gpiod_chip_info *info;

		if (strncmp(e->d_name, "gpiochip", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", GPIO_DEV_DIR, e->d_name);
		if (!gpiod_is_gpiochip_device(path) || !(c = gpiod_chip_open(path)))
			continue;
		info = gpiod_chip_get_info(c);
		if (info && strcmp(gpiod_chip_info_get_label(info), chip) == 0)
			found = strdup(path);
		gpiod_chip_info_free(info);
		gpiod_chip_close(c);
	}
	if (dir)
		closedir(dir);
	return found;
}

/* The offset of line_name, or of offset_in when it exists; -1 with err. */
static int find_line(struct gpiod_chip *c, const char *path, const char *line_name,
		     unsigned offset_in, char *err, size_t errlen)
{
	struct gpiod_chip_info *info;
	size_t lines;
	int off;

	if (line_name) {
		off = gpiod_chip_get_line_offset_from_name(c, line_name);
		if (off < 0)
			snprintf(err, errlen, "GPIO chip %s has no line named \"%s\"", path, line_name);
		return off < 0 ? -1 : off;
	}
	info = gpiod_chip_get_info(c);
	lines = info ? gpiod_chip_info_get_num_lines(info) : 0;
	gpiod_chip_info_free(info);
	if (offset_in >= lines) {
		snprintf(err, errlen, "GPIO chip %s has lines 0 .. %zu, not %u", path,
			 lines ? lines - 1 : 0, offset_in);
		return -1;
	}
	return (int)offset_in;
}

static int lg_resolve(const char *chip, const char *line_name, unsigned offset_in,
		      char **chip_path, unsigned *offset, char *err, size_t errlen)
{
	char *path = find_chip(chip);
	struct gpiod_chip *c;
	int off;

	if (!path) {
		snprintf(err, errlen,
			 "no GPIO chip \"%s\" (give a path, a name such as gpiochip0, or a label)",
			 chip);
		return -ENODEV;
	}
	c = gpiod_chip_open(path);
	if (!c) {
		snprintf(err, errlen, "GPIO chip %s: %s", path, strerror(errno));
		free(path);
		return -ENODEV;
	}
	off = find_line(c, path, line_name, offset_in, err, errlen);
	gpiod_chip_close(c);
	if (off < 0) {
		free(path);
		return -ENOENT;
	}
	*chip_path = path;
	*offset = (unsigned)off;
	return 0;
}

const struct gpio_backend gpio_chip_backend = {
	.resolve = lg_resolve,
	.configure = lg_configure,
	.get = lg_get,
	.set = lg_set,
	.release = lg_release,
};
