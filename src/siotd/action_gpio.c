/* SPDX-License-Identifier: MIT */
/*
 * GPIO actions on held lines: set, toggle, pulse (value for a duration, then
 * the opposite, on a timer: the loop is never blocked) and get (the result
 * byte is the logical value, and unless the command says output = false the
 * value is also its output text, "0\n" or "1\n"; reading an output does not
 * change it).  One action per line at a time.  A GPIO error is FAILED.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "log.h"
#include "usec.h"

struct gpio_run {
	struct actions *owner;
	struct gpio_held *line;
	int pulse_value;
	sd_event_source *src;
	struct action_result result;
	char note[128];
	uint8_t text[2];        /* a get's value as output text */
	action_done_fn done;
	void *userdata;
};

static void finish(struct gpio_run *a)
{
	int r;

	a->result.note = a->note;
	a->src = sd_event_source_disable_unref(a->src);
	r = gpio_release(a->line);
	if (r < 0) {
		errno = -r;
		log_warn("a GPIO line could not take the settings a reload gave it while it "
			 "was in use; it keeps its old ones");
	}
	a->owner->n_running--;
	a->done(a->userdata, &a->result);
	free(a);
}

static int on_defer(sd_event_source *s, void *userdata)
{
	(void)s;
	finish(userdata);
	return 0;
}

static int on_pulse_end(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct gpio_run *a = userdata;
	int r = gpio_set(a->line, !a->pulse_value);

	(void)s;
	(void)usec;
	if (r < 0) {
		a->result.status = SIOT_STATUS_FAILED;
		snprintf(a->note, sizeof(a->note), "pulse could not end: %s", strerror(-r));
		errno = -r;
		log_warn("GPIO line stuck at %d after a pulse", a->pulse_value);
	} else {
		snprintf(a->note, sizeof(a->note), "pulsed %d", a->pulse_value);
	}
	finish(a);
	return 0;
}

int action_gpio_start(struct actions *owner, const struct command *cmd, action_done_fn done,
		      void *userdata)
{
	const struct gpio_line_decl *decl = cmd->gpio_line;
	struct gpio_held *line = gpio_lookup(owner->gpio, decl);
	struct gpio_run *a;
	int r = -EINVAL, v = 0;

	if (!line)
		return -ENODEV;
	if (gpio_acquire(line) < 0)
		return -EBUSY;
	a = calloc(1, sizeof(*a));
	if (!a) {
		gpio_release(line);
		return -ENOMEM;
	}
	a->owner = owner;
	a->line = line;
	a->done = done;
	a->userdata = userdata;
	a->result.status = SIOT_STATUS_OK;
	owner->n_running++;

	switch (cmd->op) {
	case GPIO_OP_SET:
		r = gpio_set(line, cmd->value);
		snprintf(a->note, sizeof(a->note), "%s = %d", decl->name, cmd->value);
		break;
	case GPIO_OP_TOGGLE:
		r = gpio_get(line, &v);
		if (r == 0)
			r = gpio_set(line, !v);
		snprintf(a->note, sizeof(a->note), "%s = %d", decl->name, !v);
		break;
	case GPIO_OP_GET:
		r = gpio_get(line, &v);
		a->result.result = (uint8_t)v;
		if (r == 0 && cmd->output) {
			a->text[0] = v ? '1' : '0';
			a->text[1] = '\n';
			a->result.output = a->text;
			a->result.output_len = sizeof(a->text);
		}
		snprintf(a->note, sizeof(a->note), "%s is %d", decl->name, v);
		break;
	case GPIO_OP_PULSE:
		a->pulse_value = cmd->value;
		r = gpio_set(line, cmd->value);
		if (r == 0) {
			/* From the clock now, not from the loop iteration's time,
			 * which is earlier by the scan and the set (usec.h). */
			r = sd_event_add_time(owner->event, &a->src, CLOCK_MONOTONIC,
					      monotonic_usec() + cmd->duration_usec,
					      ACCURACY_ACTION_USEC, on_pulse_end, a);
			if (r < 0)
				gpio_set(line, !cmd->value);
			else
				return 0;
		}
		snprintf(a->note, sizeof(a->note), "%s: pulse failed", decl->name);
		break;
	}
	if (r < 0) {
		a->result.status = SIOT_STATUS_FAILED;
		a->result.result = 0;
		snprintf(a->note, sizeof(a->note), "%s: %s", decl->name, strerror(-r));
	}
	/* done must not run inside action_start: hand it to the loop. */
	r = sd_event_add_defer(owner->event, &a->src, on_defer, a);
	if (r < 0) {
		gpio_release(line);
		owner->n_running--;
		free(a);
		return r;
	}
	return 0;
}
