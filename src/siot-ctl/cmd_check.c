/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "send.h"

/* check's work, with its large parts from the caller. */
static int check_file(const struct options *o, const char *path, struct target *t,
		      struct target_names *names, struct target_group *group)
{
	int r;

	target_clear(t);
	r = target_load(path, o->target_name, t, cfg_print_problem, true, names, group);
	if (r == -ENOENT) {
		fprintf(stderr, "siot-ctl: %s: no such file\n", path);
		return EXIT_CONFIG;
	}
	if (r == -ESRCH && o->target_name && target_is_pattern(o->target_name)) {
		fprintf(stderr, "siot-ctl: %s: no target matches \"%s\"\n", path, o->target_name);
		return EXIT_CONFIG;
	}
	if (r == -ESRCH) {
		const char *near = o->target_name ? target_nearest(names, o->target_name) : NULL;

		fprintf(stderr, "siot-ctl: %s: no target named \"%s\"%s%s%s\n", path,
			o->target_name ? o->target_name : "?", near ? "; did you mean \"" : "",
			near ? near : "", near ? "\"?" : "");
		return EXIT_CONFIG;
	}
	if (r < 0)
		return EXIT_CONFIG;
	printf("%s: OK, %u target(s)%s", path, names->n_all, names->n_groups_all ? ", " : "\n");
	if (names->n_groups_all)
		printf("%u group(s)\n", names->n_groups_all);
	for (unsigned i = 0; i < names->n; i++)
		printf("  %-20s %s%s\n", names->name[i], names->where[i],
		       strcmp(names->name[i], names->def) == 0 ? "  (default)" : "");
	if (names->n_all > names->n)
		printf("  ... and %u more target(s)\n", names->n_all - names->n);
	for (unsigned i = 0; i < names->n_groups; i++)
		printf("  %-20s group of %u target(s)%s\n", names->group[i], names->group_size[i],
		       strcmp(names->group[i], names->def) == 0 ? "  (default)" : "");
	if (names->n_groups_all > names->n_groups)
		printf("  ... and %u more group(s)\n", names->n_groups_all - names->n_groups);
	return 0;
}

int cmd_check(const struct options *o)
{
	struct target_names *names = malloc(sizeof(*names));
	struct target_group *group = calloc(1, sizeof(*group));
	struct target t;
	int r;

	if (!names || !group) {
		fprintf(stderr, "siot-ctl: out of memory\n");
		r = 70;
	} else {
		r = check_file(o, o->path, &t, names, group);
	}
	free(names);
	if (group)
		target_group_free(group);
	free(group);
	return r;
}
