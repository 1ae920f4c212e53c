/* SPDX-License-Identifier: MIT */
/*
 * GPIO lines, held for the daemon's life in a registry the daemon owns.
 * Backends (gpio_backend.h): libgpiod v2 for the kernel's GPIO character
 * devices (when built with it), and "sim", an in-process chip of
 * GPIO_SIM_LINES lines for the demo and the tests.
 *
 * Lines are requested when a configuration is applied and kept across
 * connections, so an output stays where it was set; a reload re-requests
 * only the lines whose settings changed.  Values are logical: active_low is
 * applied by the backend.
 *
 * The sim chip shows its lines to other processes when it is given a folder
 * (siotd passes $SIOTD_GPIO_SIM_DIR, read once at start): the physical level
 * of line N goes to the file "lineN" there on every change, and an input
 * line N reads "lineN.in" (a 0 or 1 written by someone else) when it exists,
 * else its bias.
 */
#ifndef SIOTD_GPIO_H
#define SIOTD_GPIO_H

#include <stdbool.h>
#include <stddef.h>

#define GPIO_SIM_CHIP "sim"
#define GPIO_SIM_LINES 64
#define GPIO_CONSUMER "siotd"

enum gpio_direction { GPIO_INPUT, GPIO_OUTPUT };
enum gpio_bias { GPIO_BIAS_AS_IS, GPIO_BIAS_DISABLED, GPIO_BIAS_PULL_UP, GPIO_BIAS_PULL_DOWN };
enum gpio_drive { GPIO_DRIVE_PUSH_PULL, GPIO_DRIVE_OPEN_DRAIN, GPIO_DRIVE_OPEN_SOURCE };

/* A line as a configuration declares it; chip_path and offset are filled in
 * by gpio_resolve (config_resolve). */
struct gpio_line_decl {
	char *name;          /* the config's name for it */
	char *chip;          /* as written: path, name, label or "sim" */
	char *line_name;     /* as written when the line is given by name, else NULL */
	char *chip_path;     /* resolved: "/dev/gpiochipN" or "sim" */
	unsigned offset;     /* as written (an offset), then resolved */
	enum gpio_direction direction;
	bool active_low;
	enum gpio_bias bias;
	enum gpio_drive drive;
	int initial;         /* outputs: 0 or 1 */
	int source_line;     /* where it was declared */
	int spec_line;       /* where its line = ... is; 0 when there is nothing to resolve */
};

/*
 * Find chip (a path, a chip name such as "gpiochip0", a label, or "sim") and
 * line (an offset when line_name is NULL, else a line name) without
 * requesting anything.  Sets *chip_path (malloc'd) and *offset.  Returns 0,
 * or -ENOENT / -ENODEV / -ENOTSUP with a message in err.
 */
int gpio_resolve(const char *chip, const char *line_name, unsigned offset_in, char **chip_path,
		 unsigned *offset, char *err, size_t errlen);

struct gpio_registry;
struct gpio_held;

/* A registry holding no line.  sim_dir: where the sim chip shows its lines,
 * or NULL.  Returns NULL when out of memory. */
struct gpio_registry *gpio_registry_new(const char *sim_dir);
/* Release every held line and free the registry (NULL is fine). */
void gpio_registry_free(struct gpio_registry *reg);

/*
 * Make the held lines match decls[0..n): lines with the same settings are
 * kept as they are (an output keeps its value), changed ones are
 * reconfigured, new ones requested with their initial value.  A line an
 * action is using (a pulse) keeps its settings until the action ends: the
 * change waits, and gpio_release applies it.  Lines no longer declared are
 * released by gpio_release_undeclared once the configuration that drops
 * them is in use.  Returns 0 or a negative errno with a message in err; on
 * failure nothing has changed: lines it requested are released again and
 * lines it reconfigured get their previous settings back (and waiting
 * changes their previous state).
 */
int gpio_apply(struct gpio_registry *reg, const struct gpio_line_decl *decls, size_t n, char *err,
	       size_t errlen);
/* Release held lines that none of decls[0..n) declares; one in use is
 * released when its action ends. */
void gpio_release_undeclared(struct gpio_registry *reg, const struct gpio_line_decl *decls,
			     size_t n);

/* The held line for a declaration, or NULL. */
struct gpio_held *gpio_lookup(struct gpio_registry *reg, const struct gpio_line_decl *decl);
/* One action per line at a time: 0, or -EBUSY when one is under way. */
int gpio_acquire(struct gpio_held *h);
/* The action is over: the line is released if it is no longer declared, or
 * takes the settings a reload gave it meanwhile.  Returns 0, or a negative
 * errno when those settings could not be applied (the line keeps its old
 * ones). */
int gpio_release(struct gpio_held *h);

/* Read or write the logical value; 0 or a negative errno (-EPERM: writing
 * an input). */
int gpio_get(struct gpio_held *h, int *value);
int gpio_set(struct gpio_held *h, int value);

#endif
