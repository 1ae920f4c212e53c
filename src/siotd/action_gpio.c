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
	action_done_fn done;
	void *userdata;
};

/* Hand back a line after its action; a reload may have left it settings
 * it could not take while in use. */
static void release(struct gpio_held *line)
{
	int r = gpio_release(line);

	if (r < 0) {
		errno = -r;
		log_warn("a GPIO line could not take the settings a reload gave it while it "
			 "was in use; it keeps its old ones");
	}
}

static void finish(struct gpio_run *a)
{
	a->result.note = a->note;
	a->src = sd_event_source_disable_unref(a->src);
	release(a->line);
	a->owner->n_running--;
	a->done(a->userdata, &a->result);
	free(a);
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

/* An action that ended at once: r < 0 is FAILED with its error as the note
 * (the note written so far otherwise); the line is handed back. */
static int ended_now(struct gpio_held *line, const struct command *cmd, int r,
		     struct action_now *now)
{
	if (r < 0) {
		now->result.status = SIOT_STATUS_FAILED;
		now->result.result = 0;
		snprintf(now->note, sizeof(now->note), "%s: %s", cmd->gpio_line->name,
			 strerror(-r));
	}
	now->result.note = now->note;
	release(line);
	return 1;
}

/* set, toggle and get: done at once, into *now. */
static int run_now(struct gpio_held *line, const struct command *cmd, struct action_now *now)
{
	const struct gpio_line_decl *decl = cmd->gpio_line;
	int r = -EINVAL, v = 0;

	switch (cmd->op) {
	case GPIO_OP_SET:
		r = gpio_set(line, cmd->value);
		snprintf(now->note, sizeof(now->note), "%s = %d", decl->name, cmd->value);
		break;
	case GPIO_OP_TOGGLE:
		r = gpio_get(line, &v);
		if (r == 0)
			r = gpio_set(line, !v);
		snprintf(now->note, sizeof(now->note), "%s = %d", decl->name, !v);
		break;
	case GPIO_OP_GET:
		r = gpio_get(line, &v);
		now->result.result = (uint8_t)v;
		if (r == 0 && cmd->output) {
			now->text[0] = v ? '1' : '0';
			now->text[1] = '\n';
			now->result.output = now->text;
			now->result.output_len = sizeof(now->text);
		}
		snprintf(now->note, sizeof(now->note), "%s is %d", decl->name, v);
		break;
	case GPIO_OP_PULSE:
		break; /* not here */
	}
	return ended_now(line, cmd, r, now);
}

/* A pulse: the value now, the opposite on a timer.  When it cannot start
 * it ends at once, FAILED. */
static int start_pulse(struct actions *owner, struct gpio_held *line, const struct command *cmd,
		       struct action_now *now, action_done_fn done, void *userdata)
{
	struct gpio_run *a = calloc(1, sizeof(*a));
	int r;

	if (!a) {
		gpio_release(line);
		return -ENOMEM;
	}
	r = gpio_set(line, cmd->value);
	if (r == 0) {
		/* From the clock now, not from the loop iteration's time,
		 * which is earlier by the scan and the set (usec.h). */
		r = sd_event_add_time(owner->event, &a->src, CLOCK_MONOTONIC,
				      monotonic_usec() + cmd->duration_usec, ACCURACY_ACTION_USEC,
				      on_pulse_end, a);
		if (r < 0)
			gpio_set(line, !cmd->value);
	}
	if (r < 0) {
		free(a);
		return ended_now(line, cmd, r, now);
	}
	a->owner = owner;
	a->line = line;
	a->pulse_value = cmd->value;
	a->done = done;
	a->userdata = userdata;
	a->result.status = SIOT_STATUS_OK;
	owner->n_running++;
	return 0;
}

int action_gpio_start(struct actions *owner, const struct command *cmd, struct action_now *now,
		      action_done_fn done, void *userdata)
{
	struct gpio_held *line = gpio_lookup(owner->gpio, cmd->gpio_line);

	if (!line)
		return -ENODEV;
	if (gpio_acquire(line) < 0)
		return -EBUSY;
	*now = (struct action_now){ .result.status = SIOT_STATUS_OK };
	if (cmd->op == GPIO_OP_PULSE)
		return start_pulse(owner, line, cmd, now, done, userdata);
	return run_now(line, cmd, now);
}
