/* SPDX-License-Identifier: MIT */
#include "gpio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBGPIOD
#include <gpiod.h>
#endif

struct gpio_held {
	char *chip_path;
	unsigned offset;
	struct gpio_line_decl d; /* settings in force (strings not owned) */
	bool busy, unused;
#ifdef HAVE_LIBGPIOD
	struct gpiod_line_request *req;
#endif
	struct gpio_held *next;
};

static struct gpio_held *held;

/* Keep d's settings in h; its strings belong to a config that may go away. */
static void keep_settings(struct gpio_held *h, const struct gpio_line_decl *d)
{
	h->d = *d;
	h->d.name = NULL;
	h->d.chip = NULL;
	h->d.chip_path = h->chip_path;
}

/* The sim chip: physical levels, and which lines are requested. */
static int sim_level[GPIO_SIM_LINES];

bool gpio_have_libgpiod(void)
{
#ifdef HAVE_LIBGPIOD
	return true;
#else
	return false;
#endif
}

#ifdef HAVE_LIBGPIOD
static bool is_sim(const char *chip_path)
{
	return strcmp(chip_path, GPIO_SIM_CHIP) == 0;
}
#endif

/* ---- sim backend ----------------------------------------------------------- */

static void sim_publish(unsigned offset)
{
	const char *dir = getenv("SIOTD_GPIO_SIM_DIR");
	char path[4096], tmp[4200];
	FILE *f;

	if (!dir || !*dir)
		return;
	snprintf(path, sizeof(path), "%s/line%u", dir, offset);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%d\n", sim_level[offset]);
	if (fclose(f) == 0)
		rename(tmp, path); /* readers never see a half-written file */
}

/* An input's physical level: lineN.in if someone wrote one, else its bias. */
static int sim_input_level(const struct gpio_held *h)
{
	const char *dir = getenv("SIOTD_GPIO_SIM_DIR");
	char path[4096];
	int c = EOF;
	FILE *f;

	if (dir && *dir) {
		snprintf(path, sizeof(path), "%s/line%u.in", dir, h->offset);
		f = fopen(path, "re");
		if (f) {
			c = fgetc(f);
			fclose(f);
		}
	}
	if (c == '0' || c == '1')
		return c - '0';
	return h->d.bias == GPIO_BIAS_PULL_UP ? 1 : 0;
}

static int sim_get(struct gpio_held *h, int *value)
{
	int level = h->d.direction == GPIO_OUTPUT ? sim_level[h->offset] : sim_input_level(h);

	*value = level ^ (h->d.active_low ? 1 : 0);
	return 0;
}

static int sim_set(struct gpio_held *h, int value)
{
	sim_level[h->offset] = (value ? 1 : 0) ^ (h->d.active_low ? 1 : 0);
	sim_publish(h->offset);
	return 0;
}

/* Request or reconfigure: outputs take their initial value, unless a
 * reconfigured output keeps the value it has. */
static int sim_configure(struct gpio_held *h, const struct gpio_line_decl *d, bool keep_value)
{
	int logical = d->initial;

	if (keep_value)
		sim_get(h, &logical);
	keep_settings(h, d);
	if (d->direction == GPIO_OUTPUT)
		return sim_set(h, logical);
	return 0;
}

/* ---- libgpiod backend ------------------------------------------------------ */

#ifdef HAVE_LIBGPIOD
static struct gpiod_line_config *lg_config(const struct gpio_line_decl *d, int logical)
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
	enum gpiod_line_value v = gpiod_line_request_get_value(h->req, h->offset);

	if (v == GPIOD_LINE_VALUE_ERROR)
		return -errno;
	*value = v == GPIOD_LINE_VALUE_ACTIVE;
	return 0;
}

static int lg_set(struct gpio_held *h, int value)
{
	if (gpiod_line_request_set_value(h->req, h->offset,
					 value ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE) < 0)
		return -errno;
	return 0;
}

static int lg_configure(struct gpio_held *h, const struct gpio_line_decl *d, bool keep_value)
{
	struct gpiod_line_config *lc;
	int logical = d->initial, r = 0;

	if (keep_value && h->req && lg_get(h, &logical) < 0)
		logical = d->initial;
	lc = lg_config(d, logical);
	if (!lc)
		return -EINVAL;
	if (h->req) {
		if (gpiod_line_request_reconfigure_lines(h->req, lc) < 0)
			r = -errno;
	} else {
		struct gpiod_chip *chip = gpiod_chip_open(h->chip_path);
		struct gpiod_request_config *rc = gpiod_request_config_new();

		if (!chip || !rc) {
			r = -errno;
		} else {
			gpiod_request_config_set_consumer(rc, GPIO_CONSUMER);
			h->req = gpiod_chip_request_lines(chip, rc, lc);
			if (!h->req)
				r = -errno;
		}
		gpiod_request_config_free(rc);
		if (chip)
			gpiod_chip_close(chip);
	}
	gpiod_line_config_free(lc);
	if (r == 0)
		keep_settings(h, d);
	return r < 0 ? r : 0;
}

/* Find the chip: a path, /dev/NAME, or a label among /dev/gpiochip*. */
static char *lg_find_chip(const char *chip)
{
	char path[300];
	DIR *dir;
	struct dirent *e;
	char *found = NULL;

	if (chip[0] == '/')
		return gpiod_is_gpiochip_device(chip) ? strdup(chip) : NULL;
	snprintf(path, sizeof(path), "/dev/%s", chip);
	if (!strchr(chip, '/') && gpiod_is_gpiochip_device(path))
		return strdup(path);
	dir = opendir("/dev");
	while (dir && !found && (e = readdir(dir))) {
		struct gpiod_chip *c;
		struct gpiod_chip_info *info;

		if (strncmp(e->d_name, "gpiochip", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", e->d_name);
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
#endif

/* ---- common ---------------------------------------------------------------- */

int gpio_resolve(const char *chip, const char *line_name, unsigned offset_in, char **chip_path,
		 unsigned *offset, char *err, size_t errlen)
{
	if (strcmp(chip, GPIO_SIM_CHIP) == 0) {
		unsigned n = offset_in;
		if (line_name && (sscanf(line_name, "line%u", &n) != 1 || n >= GPIO_SIM_LINES)) {
			snprintf(err, errlen, "the sim chip's lines are named line0 .. line%d, not \"%s\"",
				 GPIO_SIM_LINES - 1, line_name);
			return -ENOENT;
		}
		if (n >= GPIO_SIM_LINES) {
			snprintf(err, errlen, "the sim chip has lines 0 .. %d, not %u",
				 GPIO_SIM_LINES - 1, n);
			return -ENOENT;
		}
		*chip_path = strdup(GPIO_SIM_CHIP);
		*offset = n;
		return *chip_path ? 0 : -ENOMEM;
	}
#ifdef HAVE_LIBGPIOD
	{
		struct gpiod_chip *c;
		struct gpiod_chip_info *info;
		char *path = lg_find_chip(chip);
		size_t lines;
		int off;

		if (!path) {
			snprintf(err, errlen, "no GPIO chip \"%s\" (give a path, a name such as "
					      "gpiochip0, or a label)", chip);
			return -ENODEV;
		}
		c = gpiod_chip_open(path);
		if (!c) {
			snprintf(err, errlen, "GPIO chip %s: %s", path, strerror(errno));
			free(path);
			return -ENODEV;
		}
		info = gpiod_chip_get_info(c);
		lines = info ? gpiod_chip_info_get_num_lines(info) : 0;
		gpiod_chip_info_free(info);
		if (line_name) {
			off = gpiod_chip_get_line_offset_from_name(c, line_name);
			if (off < 0) {
				snprintf(err, errlen, "GPIO chip %s has no line named \"%s\"", path,
					 line_name);
				gpiod_chip_close(c);
				free(path);
				return -ENOENT;
			}
		} else {
			off = (int)offset_in;
			if (offset_in >= lines) {
				snprintf(err, errlen, "GPIO chip %s has lines 0 .. %zu, not %u", path,
					 lines ? lines - 1 : 0, offset_in);
				gpiod_chip_close(c);
				free(path);
				return -ENOENT;
			}
		}
		gpiod_chip_close(c);
		*chip_path = path;
		*offset = (unsigned)off;
		return 0;
	}
#else
	(void)line_name;
	(void)offset_in;
	(void)offset;
	(void)chip_path;
	snprintf(err, errlen, "GPIO chip \"%s\": this siotd was built without libgpiod "
			      "(only chip = \"%s\" is available)", chip, GPIO_SIM_CHIP);
	return -ENOTSUP;
#endif
}

static struct gpio_held *find(const char *chip_path, unsigned offset)
{
	for (struct gpio_held *h = held; h; h = h->next)
		if (h->offset == offset && strcmp(h->chip_path, chip_path) == 0)
			return h;
	return NULL;
}

struct gpio_held *gpio_lookup(const struct gpio_line_decl *decl)
{
	return find(decl->chip_path, decl->offset);
}

static bool same_settings(const struct gpio_line_decl *a, const struct gpio_line_decl *b)
{
	return a->direction == b->direction && a->active_low == b->active_low &&
	       a->bias == b->bias && (a->direction == GPIO_INPUT || a->drive == b->drive);
}

static int configure(struct gpio_held *h, const struct gpio_line_decl *d, bool keep_value)
{
#ifdef HAVE_LIBGPIOD
	if (!is_sim(h->chip_path))
		return lg_configure(h, d, keep_value);
#endif
	return sim_configure(h, d, keep_value);
}

static void free_held(struct gpio_held *h)
{
#ifdef HAVE_LIBGPIOD
	if (h->req)
		gpiod_line_request_release(h->req);
#endif
	free(h->chip_path);
	free(h);
}

static void unlink_free(struct gpio_held *h)
{
	for (struct gpio_held **p = &held; *p; p = &(*p)->next) {
		if (*p == h) {
			*p = h->next;
			break;
		}
	}
	free_held(h);
}

int gpio_apply(const struct gpio_line_decl *decls, size_t n, char *err, size_t errlen)
{
	struct gpio_held **fresh = calloc(n ? n : 1, sizeof(*fresh));
	size_t n_fresh = 0;
	int r = 0;

	if (!fresh) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct gpio_line_decl *d = &decls[i];
		struct gpio_held *h = find(d->chip_path, d->offset);

		if (h) {
			h->unused = false;
			if (same_settings(&h->d, d)) {
				keep_settings(h, d); /* the line itself is untouched */
				continue;
			}
			r = configure(h, d, d->direction == GPIO_OUTPUT &&
						    h->d.direction == GPIO_OUTPUT);
			if (r < 0)
				snprintf(err, errlen, "line \"%s\" (%s %u): cannot reconfigure: %s",
					 d->name, d->chip_path, d->offset, strerror(-r));
			continue;
		}
		h = calloc(1, sizeof(*h));
		if (!h || !(h->chip_path = strdup(d->chip_path))) {
			free(h);
			r = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			break;
		}
		h->offset = d->offset;
		r = configure(h, d, false);
		if (r < 0) {
			snprintf(err, errlen, "line \"%s\" (%s %u): cannot request it: %s", d->name,
				 d->chip_path, d->offset, strerror(-r));
			free_held(h);
			break;
		}
		h->next = held;
		held = h;
		fresh[n_fresh++] = h;
	}
	if (r < 0) {
		for (size_t i = 0; i < n_fresh; i++)
			unlink_free(fresh[i]);
	}
	free(fresh);
	return r;
}

void gpio_release_unused(const struct gpio_line_decl *decls, size_t n)
{
	struct gpio_held *h = held, *next;

	for (; h; h = next) {
		bool used = false;

		next = h->next;
		for (size_t i = 0; i < n && !used; i++)
			used = h->offset == decls[i].offset && !strcmp(h->chip_path, decls[i].chip_path);
		if (used)
			continue;
		if (h->busy)
			h->unused = true; /* released when its action ends */
		else
			unlink_free(h);
	}
}

void gpio_release_all(void)
{
	while (held)
		unlink_free(held);
}

int gpio_acquire(struct gpio_held *h)
{
	if (h->busy)
		return -EBUSY;
	h->busy = true;
	return 0;
}

void gpio_release(struct gpio_held *h)
{
	h->busy = false;
	if (h->unused)
		unlink_free(h);
}

int gpio_get(struct gpio_held *h, int *value)
{
#ifdef HAVE_LIBGPIOD
	if (!is_sim(h->chip_path))
		return lg_get(h, value);
#endif
	return sim_get(h, value);
}

int gpio_set(struct gpio_held *h, int value)
{
	if (h->d.direction != GPIO_OUTPUT)
		return -EPERM;
#ifdef HAVE_LIBGPIOD
	if (!is_sim(h->chip_path))
		return lg_set(h, value);
#endif
	return sim_set(h, value);
}
