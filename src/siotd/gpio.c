/* SPDX-License-Identifier: MIT */
/* The registry of held GPIO lines; the backends do the chip work. */
#include "gpio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio_backend.h"

struct gpio_registry {
	struct list_node held; /* struct gpio_held */
	struct gpio_sim *sim;
};

static bool is_sim(const char *chip_path)
{
	return strcmp(chip_path, GPIO_SIM_CHIP) == 0;
}

static const struct gpio_backend *backend_for(const char *chip)
{
	return is_sim(chip) ? &gpio_sim_backend : &gpio_chip_backend;
}

int gpio_resolve(const char *chip, const char *line_name, unsigned offset_in, char **chip_path,
		 unsigned *offset, char *err, size_t errlen)
{
	return backend_for(chip)->resolve(chip, line_name, offset_in, chip_path, offset, err,
					  errlen);
}

void gpio_keep_settings(struct gpio_held *h, const struct gpio_line_decl *d)
{
	h->d = *d;
	h->d.name = NULL;
	h->d.chip = NULL;
	h->d.line_name = NULL;
	h->d.chip_path = h->chip_path;
}

struct gpio_registry *gpio_registry_new(const char *sim_dir)
{
	struct gpio_registry *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return NULL;
	list_init(&reg->held);
	reg->sim = gpio_sim_new(sim_dir);
	if (!reg->sim) {
		free(reg);
		return NULL;
	}
	return reg;
}

static void free_held(struct gpio_held *h)
{
	h->backend->release(h);
	list_del(&h->node);
	free(h->chip_path);
	free(h);
}

void gpio_registry_free(struct gpio_registry *reg)
{
	struct list_node *n, *tmp;

	if (!reg)
		return;
	list_for_each_safe(n, tmp, &reg->held)
		free_held(list_entry(n, struct gpio_held, node));
	gpio_sim_free(reg->sim);
	free(reg);
}

static struct gpio_held *find(struct gpio_registry *reg, const char *chip_path, unsigned offset)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &reg->held) {
		struct gpio_held *h = list_entry(n, struct gpio_held, node);
		if (h->offset == offset && strcmp(h->chip_path, chip_path) == 0)
			return h;
	}
	return NULL;
}

struct gpio_held *gpio_lookup(struct gpio_registry *reg, const struct gpio_line_decl *decl)
{
	return find(reg, decl->chip_path, decl->offset);
}

static bool same_settings(const struct gpio_line_decl *a, const struct gpio_line_decl *b)
{
	return a->direction == b->direction && a->active_low == b->active_low &&
	       a->bias == b->bias && (a->direction == GPIO_INPUT || a->drive == b->drive);
}

/* A new held line for d, requested with its initial value. */
static int request(struct gpio_registry *reg, const struct gpio_line_decl *d,
		   struct gpio_held **out)
{
	struct gpio_held *h = calloc(1, sizeof(*h));
	int r;

	if (!h || !(h->chip_path = strdup(d->chip_path))) {
		free(h);
		return -ENOMEM;
	}
	h->backend = backend_for(d->chip_path);
	h->chip = is_sim(d->chip_path) ? reg->sim : NULL;
	h->offset = d->offset;
	r = h->backend->configure(h, d, false);
	if (r < 0) {
		h->backend->release(h);
		free(h->chip_path);
		free(h);
		return r;
	}
	list_add(&reg->held, &h->node);
	*out = h;
	return 0;
}

/* A held line's state before gpio_apply touched it, to put it back. */
struct undo {
	struct gpio_held *h;
	bool reconfigured;         /* prev is what the line had */
	struct gpio_line_decl prev;
	bool had_pending;          /* the waiting change it had */
	struct gpio_line_decl pending;
};

static void roll_back(struct undo *u, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		struct gpio_held *h = u[i].h;

		if (u[i].reconfigured)
			h->backend->configure(h, &u[i].prev, false); /* prev.initial: its value */
		h->has_pending = u[i].had_pending;
		h->pending = u[i].pending;
	}
}

/* Bring h to d's settings: now, or when its action ends. */
static int update(struct gpio_held *h, const struct gpio_line_decl *d, struct undo *u)
{
	*u = (struct undo){ .h = h, .had_pending = h->has_pending, .pending = h->pending };
	h->release_when_idle = false;
	h->has_pending = false;
	if (same_settings(&h->d, d)) {
		gpio_keep_settings(h, d); /* the line itself is untouched */
		return 0;
	}
	if (h->busy) {
		h->has_pending = true; /* a pulse finishes as it began */
		h->pending = *d;
		h->pending.name = h->pending.chip = h->pending.line_name = NULL;
		h->pending.chip_path = h->chip_path;
		return 0;
	}
	u->prev = h->d;
	if (h->d.direction == GPIO_OUTPUT)
		h->backend->get(h, &u->prev.initial); /* the value to come back to */
	u->reconfigured = true;
	return h->backend->configure(h, d, d->direction == GPIO_OUTPUT &&
						   h->d.direction == GPIO_OUTPUT);
}

int gpio_apply(struct gpio_registry *reg, const struct gpio_line_decl *decls, size_t n, char *err,
	       size_t errlen)
{
	struct gpio_held **fresh = calloc(n ? n : 1, sizeof(*fresh));
	struct undo *undo = calloc(n ? n : 1, sizeof(*undo));
	size_t n_fresh = 0, n_undo = 0;
	int r = 0;

	if (!fresh || !undo) {
		free(fresh);
		free(undo);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct gpio_line_decl *d = &decls[i];
		struct gpio_held *h = find(reg, d->chip_path, d->offset);

		if (!h) {
			r = request(reg, d, &fresh[n_fresh]);
			if (r < 0)
				snprintf(err, errlen, "line \"%s\" (%s %u): cannot request it: %s",
					 d->name, d->chip_path, d->offset, strerror(-r));
			else
				n_fresh++;
			continue;
		}
		r = update(h, d, &undo[n_undo++]);
		if (r < 0)
			snprintf(err, errlen, "line \"%s\" (%s %u): cannot reconfigure: %s", d->name,
				 d->chip_path, d->offset, strerror(-r));
	}
	if (r < 0) {
		for (size_t i = 0; i < n_fresh; i++)
			free_held(fresh[i]);
		roll_back(undo, n_undo);
	}
	free(fresh);
	free(undo);
	return r;
}

void gpio_release_undeclared(struct gpio_registry *reg, const struct gpio_line_decl *decls,
			     size_t n)
{
	struct list_node *node, *tmp;

	list_for_each_safe(node, tmp, &reg->held) {
		struct gpio_held *h = list_entry(node, struct gpio_held, node);
		bool declared = false;

		for (size_t i = 0; i < n && !declared; i++)
			declared = h->offset == decls[i].offset &&
				   !strcmp(h->chip_path, decls[i].chip_path);
		if (declared)
			continue;
		if (h->busy)
			h->release_when_idle = true;
		else
			free_held(h);
	}
}

int gpio_acquire(struct gpio_held *h)
{
	if (h->busy)
		return -EBUSY;
	h->busy = true;
	return 0;
}

int gpio_release(struct gpio_held *h)
{
	const struct gpio_line_decl *d = &h->pending;

	h->busy = false;
	if (h->release_when_idle) {
		free_held(h);
		return 0;
	}
	if (!h->has_pending)
		return 0;
	h->has_pending = false;
	return h->backend->configure(h, d,
				     d->direction == GPIO_OUTPUT && h->d.direction == GPIO_OUTPUT);
}

int gpio_get(struct gpio_held *h, int *value)
{
	return h->backend->get(h, value);
}

int gpio_set(struct gpio_held *h, int value)
{
	if (h->d.direction != GPIO_OUTPUT)
		return -EPERM;
	return h->backend->set(h, value);
}
