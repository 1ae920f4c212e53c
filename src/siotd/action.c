/* SPDX-License-Identifier: MIT */
#include "action.h"

#include <errno.h>

static unsigned n_running;

int action_start(sd_event *e, const struct config *cfg, const struct command *cmd,
		 const struct action_context *ctx, action_done_fn done, void *userdata)
{
	switch (cmd->kind) {
	case ACTION_EXEC:
		return action_exec_start(e, cmd, ctx, done, userdata);
	case ACTION_GPIO:
		return action_gpio_start(e, cfg, cmd, done, userdata);
	}
	return -EINVAL;
}

void action_kill_all(void)
{
	action_exec_kill_all(); /* GPIO actions end by themselves within their pulse */
}

unsigned action_running(void)
{
	return n_running;
}

void action_track(int delta)
{
	n_running = (unsigned)((int)n_running + delta);
}
