/* SPDX-License-Identifier: MIT */
/*
 * GPIO lines, held for the daemon's life.  Two backends: libgpiod v2 for the
 * kernel's GPIO character devices (when built with it), and "sim", an
 * in-process chip of GPIO_SIM_LINES lines for the demo and the tests.
 *
 * Lines are requested when a configuration is applied and kept across
 * connections, so an output stays where it was set; a reload re-requests
 * only the lines whose settings changed.  Values are logical: active_low is
 * applied by the backend.
 *
 * The sim chip shows its lines to other processes when $SIOTD_GPIO_SIM_DIR
 * names a folder: siotd writes the physical level of line N to the file
 * "lineN" there on every change, and an input line N reads "lineN.in" (a
 * 0 or 1 written by someone else) when it exists, else its bias.
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

/* A line as a configuration declares it, after resolution. */
struct gpio_line_decl {
	char *name;          /* the config's name for it */
	char *chip;          /* as written: path, name, label or "sim" */
	char *chip_path;     /* resolved: "/dev/gpiochipN" or "sim" */
	unsigned offset;     /* resolved */
	enum gpio_direction direction;
	bool active_low;
	enum gpio_bias bias;
	enum gpio_drive drive;
	int initial;         /* outputs: 0 or 1 */
	int source_line;     /* where it was declared */
};

/* True when siotd was built with libgpiod. */
bool gpio_have_libgpiod(void);

/*
 * Find chip (a path, a chip name such as "gpiochip0", a label, or "sim") and
 * line (an offset when line_name is NULL, else a line name) without
 * requesting anything.  Sets *chip_path (malloc'd) and *offset.  Returns 0,
 * or -ENOENT / -ENODEV / -ENOTSUP with a message in err.
 */
int gpio_resolve(const char *chip, const char *line_name, unsigned offset_in, char **chip_path,
		 unsigned *offset, char *err, size_t errlen);

struct gpio_held;

/*
 * Make the held lines match decls[0..n): lines with the same settings are
 * kept as they are (an output keeps its value), changed ones are
 * reconfigured, new ones requested with their initial value.  Lines no longer
 * declared are released by gpio_release_unused once the configuration that
 * drops them is in use.  Returns 0 or a negative errno with a message in
 * err; on failure, lines it requested are released again.
 */
int gpio_apply(const struct gpio_line_decl *decls, size_t n, char *err, size_t errlen);
/* Release held lines that none of decls[0..n) declares (those in use are
 * released when their action ends). */
void gpio_release_unused(const struct gpio_line_decl *decls, size_t n);
/* Release everything (shutdown). */
void gpio_release_all(void);

/* The held line for a declaration, or NULL. */
struct gpio_held *gpio_lookup(const struct gpio_line_decl *decl);
/* One action per line at a time: 0, or -EBUSY when one is under way. */
int gpio_acquire(struct gpio_held *h);
void gpio_release(struct gpio_held *h);

/* Read or write the logical value; 0 or a negative errno. */
int gpio_get(struct gpio_held *h, int *value);
int gpio_set(struct gpio_held *h, int value);

#endif
