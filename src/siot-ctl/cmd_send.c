/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hostport.h"
#include "keyfile.h"
#include "output.h"
#include "prepare.h"
#include "send.h"
#include "serial.h"

/* A problem in a config file that is being ignored, as a warning. */
static void print_warning(void *userdata, const char *file, int line, const char *msg)
{
	(void)userdata;
	if (line > 0)
		fprintf(stderr, "siot-ctl: warning: %s:%d: %s\n", file, line, msg);
	else
		fprintf(stderr, "siot-ctl: warning: %s: %s\n", file, msg);
}

/* Whether the flags alone name everything a send needs. */
static bool flags_complete(const struct target *f)
{
	return (f->host[0] || f->socket[0] || f->serial[0] || (f->mqtt[0] && f->device[0])) &&
	       f->key_file[0] &&
	       (f->id[0] || strcmp(f->protocol, "classic") == 0);
}

/* Flags that say where a single device is, or who to be on it: they make no
 * sense for a group, whose members each have their own. */
static const char *single_device_flag(const struct target *f)
{
	return f->host[0]     ? "-H"
	     : f->port[0]     ? "-p"
	     : f->socket[0]   ? "-U"
	     : f->mqtt[0]     ? "-M"
	     : f->serial[0]   ? "-S"
	     : f->baud >= 0   ? "--baud"
	     : f->framing[0]  ? "--framing"
	     : f->device[0]   ? "-D"
	     : f->id[0]       ? "-i"
	     : f->key_file[0] ? "-k"
	     : f->protocol[0] ? "--protocol"
	     : f->hash[0]     ? "--hash"
	     : f->tag_length >= 0       ? "--tag-length"
	     : f->challenge_length >= 0 ? "--challenge-length"
	     : f->wakeup_length >= 0    ? "--wakeup-length"
					: NULL;
}

/* Every target's and group's name, none left out. */
static void print_names(const struct target_names *names)
{
	fprintf(stderr, "siot-ctl: its targets:");
	for (unsigned i = 0; i < names->n; i++)
		fprintf(stderr, "%s %s", i ? "," : "", names->name[i]);
	for (unsigned i = 0; i < names->n_groups; i++)
		fprintf(stderr, "%s %s (group)", i || names->n ? "," : "", names->group[i]);
	fprintf(stderr, "\n");
}

/* The target: the config's (when there is one), then the flags on top.
 * Returns 0, an exit status, or -1 when the name is group's (in *group). */
static int pick_target(const struct options *o, struct target *t, struct target_group *group,
		       struct target_names *names)
{
	const char *path = o->path;
	/* With -H, -i and -k the file is not needed: a broken one is only
	 * warned about (unless -t asks for one of its targets). */
	bool optional = flags_complete(&o->flags) && !o->target_name;
	int r;

	target_clear(t);
	r = target_load(path, o->target_name, t, optional ? print_warning : cfg_print_problem, false,
			names, group);
	if (r == 1 && optional)
		r = 0; /* the default is a group, but the flags name one device whole */
	if (r == 1) {
		const char *flag = single_device_flag(&o->flags);

		if (flag) {
			fprintf(stderr,
				"siot-ctl: %s is for one device; \"%s\" is a group of %u, each with "
				"its own (set it in their targets)\n",
				flag, group->name, group->n);
			return EXIT_USAGE;
		}
		return -1;
	}
	if (r == -ENOENT && (o->config_path || o->target_name)) {
		fprintf(stderr, "siot-ctl: %s: no such file%s\n", path,
			o->target_name ? " (needed for -t)" : "");
		return EXIT_CONFIG;
	}
	if (r == -EPERM)
		return EXIT_CONFIG; /* unsafe permissions: refused even when not needed */
	if (r == -EINVAL && optional) {
		fprintf(stderr, "siot-ctl: warning: %s ignored: -H/-U, -i and -k give everything "
				"needed\n",
			path);
		target_clear(t);
		r = 0;
	}
	if (r == -ESRCH && optional)
		r = 0; /* no default, and none needed */
	if (r == -ESRCH && o->target_name && target_is_pattern(o->target_name)) {
		fprintf(stderr, "siot-ctl: %s: no target matches \"%s\"\n", path, o->target_name);
		if (names->n)
			print_names(names);
		return EXIT_CONFIG;
	}
	if (r == -ESRCH) {
		const char *near = o->target_name ? target_nearest(names, o->target_name) : NULL;

		if (near)
			fprintf(stderr, "siot-ctl: %s: no target named \"%s\"; did you mean \"%s\"?\n",
				path, o->target_name, near);
		else
			fprintf(stderr, "siot-ctl: %s: no target named \"%s\"%s\n", path,
				o->target_name ? o->target_name : "?",
				o->target_name ? "" : " (set default, or give -t NAME)");
		if (!near && names->n)
			print_names(names);
		return EXIT_CONFIG;
	}
	if (r < 0 && r != -ENOENT)
		return EXIT_CONFIG;
	if (optional)
		target_clear(t); /* a target given whole on the command line takes
				  * nothing from the file's default */
	target_merge(t, &o->flags);
	if (!t->host[0] && !t->socket[0] && !t->mqtt[0] && !t->serial[0]) {
		fprintf(stderr,
			"siot-ctl: no device to talk to: give -t TARGET (from %s), -H HOST, -U SOCKET, "
			"-S SERIAL "
			"or -M URL\n",
			path);
		return EXIT_USAGE;
	}
	return 0;
}

/* One device: its key and password read, the commands sent, each printed. */
static int send_one(const struct options *o, const struct target *t, struct send_outcome *out)
{
	struct send_options so;
	struct siot_key *key;
	char *password;
	int code;

	if ((code = prepare_options(t, &so)) != 0 || (code = prepare_check_names(&so, o)) != 0)
		return code;
	if ((code = prepare_mqtt_password(t, &so, &password)) != 0)
		return code;
	key = prepare_read_key(t, so.params.hash, &code);
	if (!key) {
		sodium_free(password);
		return code;
	}
	so.key = key;
	code = send_commands(&so, o->commands, o->n_commands, out);
	prepare_values(t, out, o->n_commands);
	prepare_free_key(key);
	sodium_free(password); /* wipes; NULL is fine */
	for (size_t i = 0; i < o->n_commands; i++) {
		if (o->quiet && out[i].outcome == OUTCOME_OK && out[i].exit_code == 0)
			continue;
		if (o->json)
			output_json(&out[i]);
		else
			output_human(&out[i], o->n_commands > 1, o->verbose);
	}
	fflush(stdout);
	return code;
}

int cmd_send(const struct options *o)
{
	/* Large (the outcomes' output buffers, a group's names): on the heap,
	 * for this call only. */
	struct {
		struct send_outcome out[OPTIONS_MAX_COMMANDS];
		struct target_group group;
		struct target_names names;
		struct target t;
	} *w = calloc(1, sizeof(*w));
	int code;

	if (!w) {
		fprintf(stderr, "siot-ctl: out of memory\n");
		return 70;
	}
	code = pick_target(o, &w->t, &w->group, &w->names);
	if (code == -1)
		code = cmd_send_group(o, &w->group);
	else if (code == 0)
		code = send_one(o, &w->t, w->out);
	target_group_free(&w->group);
	sodium_memzero(w->out, sizeof(w->out)); /* commands' outputs */
	free(w);
	return code;
}
