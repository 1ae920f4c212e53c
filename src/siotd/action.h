/* SPDX-License-Identifier: MIT */
/*
 * The action interface: start an action for a verified request, be told
 * once when it has finished, with the status, the unsent result byte and any
 * output.  Actions run without blocking the event loop.  A client that goes
 * away does not cancel its action; only the daemon's shutdown does.
 *
 * Running actions belong to one struct actions, which the daemon owns.
 */
#ifndef SIOTD_ACTION_H
#define SIOTD_ACTION_H

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "cgroup.h"
#include "config.h"
#include "gpio.h"
#include "list.h"
#include "siot.h"

struct action_result {
	enum siot_status status;  /* OK, FAILED, TIMEOUT or ERROR */
	uint8_t result;           /* exit status, 128 + signal, or 0 */
	const uint8_t *output;    /* captured stdout, valid during the callback */
	size_t output_len;
	const char *note;         /* why, for the log ("exit 3", "killed by signal 9") */
};

typedef void (*action_done_fn)(void *userdata, const struct action_result *r);

struct action_context {
	const char *client_id;
	const char *peer;
	size_t output_max; /* bytes of stdout kept at most */
};

/* Every running action. */
struct actions {
	sd_event *event;
	struct gpio_registry *gpio;
	struct cgroups *cg;        /* scripts' cgroups, when siotd has a delegated one */
	struct list_node scripts;  /* running scripts (action_exec.c) */
	unsigned n_running;        /* scripts and GPIO actions */
};

void actions_init(struct actions *a, sd_event *event, struct gpio_registry *gpio,
		  struct cgroups *cg);

/* Where an action that finished at once leaves its outcome (see
 * action_start); the caller's, valid until it is reused. */
struct action_now {
	struct action_result result;
	char note[128];
	uint8_t text[2];        /* a get's value as output text */
};

/*
 * Start cmd's action.  A GPIO set, toggle or get finishes at once: it
 * returns 1 with the outcome in *now, done is not called and nothing is
 * left running.  Otherwise done is called exactly once, from the event
 * loop, after action_start returned 0 (never from inside it); the action
 * is counted out of n_running before done is called, and frees itself
 * after.  Returns -EBUSY when the command's GPIO line is in use by another
 * action (the caller answers BUSY), or another negative errno when nothing
 * could be started at all (the caller answers ERROR).
 */
int action_start(struct actions *a, const struct command *cmd, const struct action_context *ctx,
		 struct action_now *now, action_done_fn done, void *userdata);

/* Stop every running action now (daemon shutdown): each script's process
 * group gets SIGKILL; their done callbacks still run as they are reaped.
 * GPIO actions end by themselves within their pulse. */
void actions_kill_all(struct actions *a);

/* The implementations (action_exec.c, action_gpio.c). */
int action_exec_start(struct actions *a, const struct command *cmd,
		      const struct action_context *ctx, action_done_fn done, void *userdata);
void action_exec_kill_all(struct actions *a);
int action_gpio_start(struct actions *a, const struct command *cmd, struct action_now *now,
		      action_done_fn done, void *userdata);

#endif
