/* SPDX-License-Identifier: MIT */
/*
 * What the GPIO registry (gpio.c) asks of a backend, and the held line they
 * share.  Only gpio.c and the backends include this.
 */
#ifndef SIOTD_GPIO_BACKEND_H
#define SIOTD_GPIO_BACKEND_H

#include "gpio.h"
#include "list.h"

struct gpio_held {
	const struct gpio_backend *backend;
	void *chip;               /* the backend's: the sim chip, or a libgpiod request */
	char *chip_path;
	unsigned offset;
	struct gpio_line_decl d;  /* settings in force (strings not owned) */
	bool busy;                /* an action is using it */
	bool release_when_idle;   /* no longer declared: released when the action ends */
	bool has_pending;         /* a reload changed it while busy: */
	struct gpio_line_decl pending; /* applied when the action ends */
	struct list_node node;    /* in the registry */
};

struct gpio_backend {
	/* As gpio_resolve, for this backend's chips. */
	int (*resolve)(const char *chip, const char *line_name, unsigned offset_in,
		       char **chip_path, unsigned *offset, char *err, size_t errlen);
	/* Request h (first time) or reconfigure it to d.  Outputs take d's
	 * initial value unless keep_value, when they keep the value they have.
	 * On success, d's settings are kept in h (gpio_keep_settings). */
	int (*configure)(struct gpio_held *h, const struct gpio_line_decl *d, bool keep_value);
	int (*get)(struct gpio_held *h, int *value);
	int (*set)(struct gpio_held *h, int value);
	/* Give the line back (the registry frees h). */
	void (*release)(struct gpio_held *h);
};

extern const struct gpio_backend gpio_sim_backend;
/* Real chips: libgpiod v2, or a stand-in that explains siotd was built
 * without it (gpio_none.c). */
extern const struct gpio_backend gpio_chip_backend;

/* The sim chip's state: levels, and the folder it shows them in. */
struct gpio_sim;
struct gpio_sim *gpio_sim_new(const char *dir);
void gpio_sim_free(struct gpio_sim *sim);

/* Keep d's settings in h; its strings belong to a config that may go away. */
void gpio_keep_settings(struct gpio_held *h, const struct gpio_line_decl *d);

#endif
