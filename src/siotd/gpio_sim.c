/* SPDX-License-Identifier: MIT */
/*
 * The sim chip: GPIO_SIM_LINES in-process lines, for the demo and tests.
 * Physical levels live here; with a folder, they are published as files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio_backend.h"

struct gpio_sim {
	int level[GPIO_SIM_LINES]; /* physical */
	char *dir;                 /* NULL: nothing is published */
};

struct gpio_sim *gpio_sim_new(const char *dir)
{
	struct gpio_sim *sim = calloc(1, sizeof(*sim));

	if (sim && dir && *dir && !(sim->dir = strdup(dir))) {
		free(sim);
		return NULL;
	}
	return sim;
}

void gpio_sim_free(struct gpio_sim *sim)
{
	if (!sim)
		return;
	free(sim->dir);
	free(sim);
}

static void publish(const struct gpio_sim *sim, unsigned offset)
{
	char path[4096], tmp[4200];
	FILE *f;

	if (!sim->dir)
		return;
	snprintf(path, sizeof(path), "%s/line%u", sim->dir, offset);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%d\n", sim->level[offset]);
	if (fclose(f) == 0)
		rename(tmp, path); /* readers never see a half-written file */
}

/* An input's physical level: lineN.in if someone wrote one, else its bias. */
static int input_level(const struct gpio_sim *sim, const struct gpio_held *h)
{
	char path[4096];
	int c = EOF;
	FILE *f;

	if (sim->dir) {
		snprintf(path, sizeof(path), "%s/line%u.in", sim->dir, h->offset);
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
	const struct gpio_sim *sim = h->chip;
	int level = h->d.direction == GPIO_OUTPUT ? sim->level[h->offset] : input_level(sim, h);

	*value = level ^ (h->d.active_low ? 1 : 0);
	return 0;
}

static int sim_set(struct gpio_held *h, int value)
{
	struct gpio_sim *sim = h->chip;

	sim->level[h->offset] = (value ? 1 : 0) ^ (h->d.active_low ? 1 : 0);
	publish(sim, h->offset);
	return 0;
}

static int sim_configure(struct gpio_held *h, const struct gpio_line_decl *d, bool keep_value)
{
	int logical = d->initial;

	if (keep_value)
		sim_get(h, &logical);
	gpio_keep_settings(h, d);
	if (d->direction == GPIO_OUTPUT)
		return sim_set(h, logical);
	return 0;
}

static void sim_release(struct gpio_held *h)
{
	(void)h; /* the level stays, as a released real line keeps its last state */
}

static int sim_resolve(const char *chip, const char *line_name, unsigned offset_in,
		       char **chip_path, unsigned *offset, char *err, size_t errlen)
{
	unsigned n = offset_in;

	(void)chip;
	if (line_name && (sscanf(line_name, "line%u", &n) != 1 || n >= GPIO_SIM_LINES)) {
		snprintf(err, errlen, "the sim chip's lines are named line0 .. line%d, not \"%s\"",
			 GPIO_SIM_LINES - 1, line_name);
		return -ENOENT;
	}
	if (n >= GPIO_SIM_LINES) {
		snprintf(err, errlen, "the sim chip has lines 0 .. %d, not %u", GPIO_SIM_LINES - 1,
			 n);
		return -ENOENT;
	}
	*chip_path = strdup(GPIO_SIM_CHIP);
	*offset = n;
	return *chip_path ? 0 : -ENOMEM;
}

const struct gpio_backend gpio_sim_backend = {
	.resolve = sim_resolve,
	.configure = sim_configure,
	.get = sim_get,
	.set = sim_set,
	.release = sim_release,
};
