/* SPDX-License-Identifier: MIT */
/*
 * The action interface: start an action for a verified request, be told
 * once when it has finished, with the status, the unsent result byte and any
 * output.  Actions run without blocking the event loop.  A client that goes
 * away does not cancel its action; only the daemon's shutdown does.
 */
#ifndef SIOTD_ACTION_H
#define SIOTD_ACTION_H

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "siot.h"

struct action_result {
	enum siot_status status;  /* OK, FAILED, TIMEOUT or ERROR */
	uint8_t result;           /* exit status, 128 + signal, or 0 */
	const uint8_t *output;    /* captured stdout, valid during the callback */
	size_t output_len;
	const char *note;         /* why, for the log ("exit 3", "killed by signal 9") */
};

struct action;
typedef void (*action_done_fn)(void *userdata, const struct action_result *r);

struct action_context {
	const char *client_id;
	const char *peer;
	size_t output_max; /* bytes of stdout kept at most */
};

/*
 * Start cmd's action (cfg is the configuration cmd belongs to).  done is
 * called exactly once, from the event loop, after action_start returned 0
 * (never from inside it); the action frees itself after calling done.
 * Returns 0, -EBUSY when the command's GPIO line is in use by another
 * action (the caller answers BUSY), or another negative errno when nothing
 * could be started at all (the caller answers ERROR).
 */
int action_start(sd_event *e, const struct config *cfg, const struct command *cmd,
		 const struct action_context *ctx, action_done_fn done, void *userdata);

/* Stop every running action now (daemon shutdown): each script's process
 * group gets SIGKILL; their done callbacks still run as they are reaped. */
void action_kill_all(void);
/* Actions still running. */
unsigned action_running(void);

/* For the implementations: count an action in (+1) or out (-1). */
void action_track(int delta);
int action_exec_start(sd_event *e, const struct command *cmd, const struct action_context *ctx,
		      action_done_fn done, void *userdata);
void action_exec_kill_all(void);
int action_gpio_start(sd_event *e, const struct config *cfg, const struct command *cmd,
		      action_done_fn done, void *userdata);

#endif
