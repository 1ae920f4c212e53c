/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>

#include "commands.h"
#include "send.h"

int cmd_check(const struct options *o)
{
	const char *path = o->config_path ? o->config_path : target_default_path();
	struct target t;
	int r;

	target_clear(&t);
	r = target_load(path, o->target_name, &t, cfg_print_problem, true);
	if (r == -ENOENT) {
		fprintf(stderr, "siot-ctl: %s: no such file\n", path);
		return EXIT_CONFIG;
	}
	if (r == -ESRCH) {
		fprintf(stderr, "siot-ctl: %s: no target named \"%s\"\n", path,
			o->target_name ? o->target_name : "?");
		return EXIT_CONFIG;
	}
	if (r < 0)
		return EXIT_CONFIG;
	printf("%s: OK\n", path);
	return 0;
}
