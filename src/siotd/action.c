/* SPDX-License-Identifier: MIT */
#include "action.h"

#include <errno.h>

void actions_init(struct actions *a, sd_event *event, struct gpio_registry *gpio,
		  struct cgroups *cg)
{
	*a = (struct actions){ .event = event, .gpio = gpio, .cg = cg };
	list_init(&a->scripts);
}

int action_start(struct actions *a, const struct command *cmd, const struct action_context *ctx,
		 struct action_now *now, action_done_fn done, void *userdata)
{
	switch (cmd->kind) {
	case ACTION_EXEC:
		return action_exec_start(a, cmd, ctx, done, userdata);
	case ACTION_GPIO:
		return action_gpio_start(a, cmd, now, done, userdata);
	}
	return -EINVAL;
}

void actions_kill_all(struct actions *a)
{
	action_exec_kill_all(a);
}
