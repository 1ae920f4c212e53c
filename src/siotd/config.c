/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "keyfile.h"

#define DEFAULT_COMMAND_TIMEOUT 30.0

struct loader {
	const char *path;
	char *dir; /* the config file's folder, for relative key paths */
	unsigned errors;
	config_report_fn report;
	void *userdata;
	/* Problems, reported in line order once the whole file is read. */
	struct problem {
		char *file, *msg;
		int line;
		unsigned seq;
	} *problems;
	/* Raw keys, kept only while loading, to refuse two clients sharing one. */
	uint8_t *raw_keys; /* CONFIG_MAX_CLIENTS * SIOT_MAX_KEY, locked */
	size_t raw_len[CONFIG_MAX_CLIENTS];
};

__attribute__((format(printf, 3, 4))) static void report(struct loader *l,
							  const config_setting_t *s,
							  const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	const char *file = l->path;
	int line = 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s) {
		line = (int)config_setting_source_line(s);
		if (config_setting_source_file(s))
			file = config_setting_source_file(s);
	}
	l->problems = realloc(l->problems, (l->errors + 1) * sizeof(*l->problems));
	if (!l->problems)
		abort();
	l->problems[l->errors] = (struct problem){ .file = strdup(file), .msg = strdup(msg),
						   .line = line, .seq = l->errors };
	l->errors++;
}

static int problem_cmp(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;
	int f = strcmp(x->file, y->file);

	if (f)
		return f;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : 1;
}

/* Hand every problem to the caller, sorted by file and line. */
static void flush_problems(struct loader *l)
{
	if (l->errors)
		qsort(l->problems, l->errors, sizeof(*l->problems), problem_cmp);
	for (unsigned i = 0; i < l->errors; i++) {
		struct problem *p = &l->problems[i];
		l->report(l->userdata, p->file ? p->file : l->path, p->line,
			  p->msg ? p->msg : "out of memory");
		free(p->file);
		free(p->msg);
	}
	free(l->problems);
}

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "true or false";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	default:
		return "something else";
	}
}

/* Report members of group that are not in allowed (NULL-terminated). */
static void check_members(struct loader *l, const config_setting_t *group,
			  const char *const *allowed, const char *where)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(m);
		bool ok = false;

		for (size_t j = 0; allowed[j]; j++)
			if (name && strcmp(name, allowed[j]) == 0)
				ok = true;
		if (!ok)
			report(l, m, "unknown setting '%s'%s%s", name ? name : "?", where ? " in " : "",
			       where ? where : "");
	}
}

static bool want_type(struct loader *l, const config_setting_t *s, const char *name, int type)
{
	int t = config_setting_type(s);

	if (t == type)
		return true;
	report(l, s, "%s must be %s, not %s", name, type_name(type), type_name(t));
	return false;
}

/* Optional string member; returns NULL when absent or wrong. */
static const char *get_string(struct loader *l, const config_setting_t *g, const char *name)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (!s || !want_type(l, s, name, CONFIG_TYPE_STRING))
		return NULL;
	return config_setting_get_string(s);
}

static void get_uint(struct loader *l, const config_setting_t *g, const char *name,
		     unsigned *out, unsigned min, unsigned max)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	long long v;

	if (!s)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
		report(l, s, "%s must be an integer (%u .. %u)", name, min, max);
		return;
	}
	v = config_setting_get_int64(s);
	if (v < (long long)min || v > (long long)max) {
		report(l, s, "%s = %lld is out of range (%u .. %u)", name, v, min, max);
		return;
	}
	*out = (unsigned)v;
}

/* Seconds: an integer or a number, min < value <= max. */
static void get_seconds(struct loader *l, const config_setting_t *g, const char *name,
			double *out, double min, double max)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	double v;

	if (!s)
		return;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	default:
		report(l, s, "%s must be a number of seconds", name);
		return;
	}
	if (!isfinite(v) || v <= min || v > max) {
		report(l, s, "%s = %g is out of range (more than %g, at most %g seconds)", name, v, min,
		       max);
		return;
	}
	*out = v;
}

static void get_bool(struct loader *l, const config_setting_t *g, const char *name, bool *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s && want_type(l, s, name, CONFIG_TYPE_BOOL))
		*out = config_setting_get_bool(s) != 0;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort(); /* out of memory while loading: nothing sensible to do */
	return d;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		abort();
	return p;
}

static void default_device_id(char out[SIOT_MAX_ID + 1])
{
	char host[256] = "";
	size_t n = 0;

	gethostname(host, sizeof(host) - 1);
	for (size_t i = 0; host[i] && n < SIOT_MAX_ID; i++)
		if (siot_valid_id(&host[i], 1))
			out[n++] = host[i];
	if (n == 0) {
		strcpy(out, "siot");
		return;
	}
	out[n] = '\0';
}

/* ---- top-level settings -------------------------------------------------- */

static void load_params(struct loader *l, const config_setting_t *root, struct config *c)
{
	const char *s;
	enum siot_profile profile = SIOT_PROFILE_V1;
	enum siot_hash hash = SIOT_HASH_SHA256;
	unsigned tag = 0, challenge = SIOT_DEFAULT_CHALLENGE, wakeup = 0;
	const config_setting_t *tag_s = config_setting_get_member(root, "tag_length");

	if ((s = get_string(l, root, "protocol")) && siot_profile_from_name(s, &profile) < 0)
		report(l, config_setting_get_member(root, "protocol"),
		       "protocol = \"%s\": must be \"v1\" or \"classic\"", s);
	if ((s = get_string(l, root, "hash")) && siot_hash_from_name(s, &hash) < 0)
		report(l, config_setting_get_member(root, "hash"),
		       "hash = \"%s\": must be \"sha256\" or \"sha512\"", s);
	get_uint(l, root, "tag_length", &tag, SIOT_MIN_TAG, (unsigned)siot_digest_length(hash));
	get_uint(l, root, "challenge_length", &challenge, SIOT_MIN_CHALLENGE, SIOT_MAX_CHALLENGE);
	get_uint(l, root, "wakeup_length", &wakeup, 0, SIOT_MAX_WAKEUP);
	if (profile == SIOT_PROFILE_CLASSIC && tag && tag != siot_digest_length(hash))
		report(l, tag_s, "tag_length = %u: classic always uses the full digest (%zu)", tag,
		       siot_digest_length(hash));
	if (siot_params_init(&c->params, profile, hash, tag, challenge, wakeup) < 0)
		siot_params_init(&c->params, profile, hash, 0, SIOT_DEFAULT_CHALLENGE, 0);

	default_device_id(c->device_id);
	if ((s = get_string(l, root, "device_id"))) {
		if (!siot_valid_id(s, strlen(s)))
			report(l, config_setting_get_member(root, "device_id"),
			       "device_id = \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -", s);
		else
			snprintf(c->device_id, sizeof(c->device_id), "%s", s);
	}
}

static void load_listen(struct loader *l, const config_setting_t *root, struct config *c)
{
	const config_setting_t *s = config_setting_get_member(root, "listen");
	int n;

	if (!s) {
		c->listen = xcalloc(2, sizeof(char *));
		c->listen[0] = xstrdup(CONFIG_DEFAULT_LISTEN);
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		c->listen = xcalloc(2, sizeof(char *));
		c->listen[0] = xstrdup(config_setting_get_string(s));
		return;
	}
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
		report(l, s, "listen must be an array of \"ADDRESS:PORT\" strings");
		c->listen = xcalloc(1, sizeof(char *));
		return;
	}
	n = config_setting_length(s);
	if (n > CONFIG_MAX_LISTEN)
		report(l, s, "listen: at most %d addresses", CONFIG_MAX_LISTEN);
	c->listen = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0, k = 0; i < n && k < CONFIG_MAX_LISTEN; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (want_type(l, e, "listen entry", CONFIG_TYPE_STRING))
			c->listen[k++] = xstrdup(config_setting_get_string(e));
	}
}

static void load_limits(struct loader *l, const config_setting_t *root, struct config *c)
{
	const config_setting_t *b;
	static const char *const backoff_keys[] = { "failures", "window", "base", "max", NULL };

	c->timeout = 5.0;
	c->max_connections = 64;
	c->max_connections_per_source = 8;
	c->max_requests = 1;
	c->output_max = SIOT_MAX_OUTPUT;
	c->backoff = (struct backoff_config){ 5, 60.0, 1.0, 300.0 };
	c->classic_response = true;

	get_seconds(l, root, "timeout", &c->timeout, 0.0, 3600.0);
	get_uint(l, root, "max_connections", &c->max_connections, 1, 65535);
	get_uint(l, root, "max_connections_per_source", &c->max_connections_per_source, 1, 65535);
	get_uint(l, root, "max_requests", &c->max_requests, 1, 1000000);
	get_uint(l, root, "output_max", &c->output_max, 0, SIOT_MAX_OUTPUT);
	get_bool(l, root, "classic_response", &c->classic_response);
	if (c->max_connections_per_source > c->max_connections)
		report(l, config_setting_get_member(root, "max_connections_per_source"),
		       "max_connections_per_source (%u) is more than max_connections (%u)",
		       c->max_connections_per_source, c->max_connections);

	b = config_setting_get_member(root, "backoff");
	if (b && want_type(l, b, "backoff", CONFIG_TYPE_GROUP)) {
		check_members(l, b, backoff_keys, "backoff");
		get_uint(l, b, "failures", &c->backoff.failures, 1, CONFIG_MAX_BACKOFF_FAILURES);
		get_seconds(l, b, "window", &c->backoff.window, 0.0, 86400.0);
		get_seconds(l, b, "base", &c->backoff.base, 0.0, 86400.0);
		get_seconds(l, b, "max", &c->backoff.max, 0.0, 86400.0);
		if (c->backoff.max < c->backoff.base)
			report(l, b, "backoff: max (%g) is less than base (%g)", c->backoff.max,
			       c->backoff.base);
	}
}

/* ---- commands ------------------------------------------------------------ */

static bool valid_env_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static void load_exec(struct loader *l, const config_setting_t *e, struct command *cmd)
{
	int n = config_setting_length(e);

	if (config_setting_type(e) != CONFIG_TYPE_ARRAY && config_setting_type(e) != CONFIG_TYPE_LIST) {
		report(l, e, "exec must be an array: [ \"/absolute/path\", \"arg\", ... ]");
		return;
	}
	if (n < 1 || n > CONFIG_MAX_ARGS) {
		report(l, e, "exec needs a program and at most %d arguments", CONFIG_MAX_ARGS - 1);
		return;
	}
	cmd->argv = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		const config_setting_t *a = config_setting_get_elem(e, (unsigned)i);
		if (!want_type(l, a, "exec argument", CONFIG_TYPE_STRING)) {
			cmd->argv[i] = xstrdup("");
			continue;
		}
		cmd->argv[i] = xstrdup(config_setting_get_string(a));
	}
	if (cmd->argv[0][0] != '/')
		report(l, e, "exec: \"%s\" must be an absolute path (there is no shell and no PATH search)",
		       cmd->argv[0]);
	else if (access(cmd->argv[0], X_OK) < 0)
		report(l, e, "exec: %s: %s", cmd->argv[0], strerror(errno));
}

static void load_env(struct loader *l, const config_setting_t *g, struct command *cmd)
{
	int n;

	if (!want_type(l, g, "env", CONFIG_TYPE_GROUP))
		return;
	n = config_setting_length(g);
	if (n > CONFIG_MAX_ENV) {
		report(l, g, "env: at most %d variables", CONFIG_MAX_ENV);
		n = CONFIG_MAX_ENV;
	}
	cmd->env = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0, k = 0; i < n; i++) {
		const config_setting_t *v = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(v);
		char *entry;

		if (!want_type(l, v, "an env value", CONFIG_TYPE_STRING))
			continue;
		if (!name || !valid_env_name(name) || strncmp(name, "SIOT_", 5) == 0) {
			report(l, v, "env: '%s' is not a variable name a command may set%s",
			       name ? name : "?", name && !strncmp(name, "SIOT_", 5) ?
			       " (SIOT_* are set by siotd)" : "");
			continue;
		}
		if (asprintf(&entry, "%s=%s", name, config_setting_get_string(v)) < 0)
			abort();
		cmd->env[k++] = entry;
	}
}

/* A top-level list of groups: its length, at most max (over it is
 * reported), 0 when absent or not a list.  *out is the setting or NULL. */
static int group_list(struct loader *l, const config_setting_t *root, const char *name, int max,
		      const char *shape, const config_setting_t **out)
{
	const config_setting_t *list = config_setting_get_member(root, name);
	int n = 0;

	*out = list;
	if (list && config_setting_type(list) != CONFIG_TYPE_LIST &&
	    config_setting_type(list) != CONFIG_TYPE_ARRAY)
		report(l, list, "%s must be a list %s", name, shape);
	else if (list)
		n = config_setting_length(list);
	if (n > max) {
		report(l, list, "at most %d %s", max, name);
		n = max;
	}
	return n;
}

/* ---- GPIO lines and actions --------------------------------------------- */

/* Match s against names[0..n); returns the index or -1. */
static int pick(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static void load_lines(struct loader *l, const config_setting_t *root, struct config *c)
{
	static const char *const keys[] = { "name", "chip", "line", "direction", "active_low",
					    "bias", "drive", "initial", NULL };
	static const char *const dirs[] = { "input", "output" };
	static const char *const biases[] = { "as-is", "disabled", "pull-up", "pull-down" };
	static const char *const drives[] = { "push-pull", "open-drain", "open-source" };
	const config_setting_t *list;
	int n = group_list(l, root, "lines", CONFIG_MAX_LINES,
			   "( { name = ...; chip = ...; line = ...; }, ... )", &list);

	c->lines = xcalloc((size_t)n + 1, sizeof(*c->lines));
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct gpio_line_decl *d = &c->lines[c->n_lines];
		const config_setting_t *ls;
		const char *name, *chip, *s, *line_name = NULL;
		unsigned offset = 0, initial = 0;
		char err[512];
		int k;

		if (!want_type(l, g, "a line", CONFIG_TYPE_GROUP))
			continue;
		check_members(l, g, keys, "a line");
		d->source_line = (int)config_setting_source_line(g);
		name = get_string(l, g, "name");
		if (!name || !siot_valid_id(name, strlen(name))) {
			report(l, g, "a line needs a name (1 to 32 of A-Z a-z 0-9 . _ -)");
			name = "";
		}
		for (size_t j = 0; j < c->n_lines; j++)
			if (*name && !strcmp(c->lines[j].name, name))
				report(l, g, "line \"%s\" is declared twice (first on line %d)", name,
				       c->lines[j].source_line);
		d->name = xstrdup(name);
		chip = get_string(l, g, "chip");
		if (!chip)
			report(l, g, "line \"%s\" needs a chip (a path, a name, a label or \"sim\")",
			       name);
		ls = config_setting_get_member(g, "line");
		if (!ls)
			report(l, g, "line \"%s\" needs line = an offset or a line name", name);
		else if (config_setting_type(ls) == CONFIG_TYPE_STRING)
			line_name = config_setting_get_string(ls);
		else
			get_uint(l, g, "line", &offset, 0, 65535);
		d->chip = xstrdup(chip ? chip : "");
		d->direction = GPIO_INPUT;
		if ((s = get_string(l, g, "direction"))) {
			if ((k = pick(s, dirs, 2)) < 0)
				report(l, config_setting_get_member(g, "direction"),
				       "direction \"%s\": \"input\" or \"output\"", s);
			else
				d->direction = (enum gpio_direction)k;
		}
		get_bool(l, g, "active_low", &d->active_low);
		if ((s = get_string(l, g, "bias"))) {
			if ((k = pick(s, biases, 4)) < 0)
				report(l, config_setting_get_member(g, "bias"),
				       "bias \"%s\": \"pull-up\", \"pull-down\", \"disabled\" or \"as-is\"", s);
			else
				d->bias = (enum gpio_bias)k;
		}
		if ((s = get_string(l, g, "drive"))) {
			if ((k = pick(s, drives, 3)) < 0)
				report(l, config_setting_get_member(g, "drive"),
				       "drive \"%s\": \"push-pull\", \"open-drain\" or \"open-source\"", s);
			else if (d->direction != GPIO_OUTPUT)
				report(l, config_setting_get_member(g, "drive"),
				       "line \"%s\": drive is for outputs", name);
			else
				d->drive = (enum gpio_drive)k;
		}
		if (config_setting_get_member(g, "initial") && d->direction != GPIO_OUTPUT)
			report(l, config_setting_get_member(g, "initial"),
			       "line \"%s\": initial is for outputs", name);
		get_uint(l, g, "initial", &initial, 0, 1);
		d->initial = (int)initial;
		if (chip && ls && gpio_resolve(chip, line_name, offset, &d->chip_path, &d->offset, err,
					       sizeof(err)) < 0)
			report(l, ls, "line \"%s\": %s", name, err);
		if (!d->chip_path)
			d->chip_path = xstrdup("");
		for (size_t j = 0; j < c->n_lines; j++)
			if (*d->chip_path && !strcmp(c->lines[j].chip_path, d->chip_path) &&
			    c->lines[j].offset == d->offset)
				report(l, g, "lines \"%s\" and \"%s\" are the same GPIO line (%s %u)",
				       c->lines[j].name, name, d->chip_path, d->offset);
		c->n_lines++;
	}
}

static void load_gpio_action(struct loader *l, const config_setting_t *g, struct config *c,
			     struct command *cmd)
{
	static const char *const keys[] = { "line", "action", "value", "duration", NULL };
	static const char *const ops[] = { "set", "toggle", "pulse", "get" };
	const char *line, *op;
	unsigned value = 0;
	int k;

	cmd->kind = ACTION_GPIO;
	if (!want_type(l, g, "gpio", CONFIG_TYPE_GROUP))
		return;
	check_members(l, g, keys, "gpio");
	line = get_string(l, g, "line");
	op = get_string(l, g, "action");
	cmd->gpio_line = SIZE_MAX;
	for (size_t i = 0; line && i < c->n_lines; i++)
		if (!strcmp(c->lines[i].name, line))
			cmd->gpio_line = i;
	if (!line)
		report(l, g, "gpio needs line = the name of a line declared in lines");
	else if (cmd->gpio_line == SIZE_MAX)
		report(l, config_setting_get_member(g, "line"), "gpio: no line \"%s\" is declared",
		       line);
	if (!op || (k = pick(op, ops, 4)) < 0) {
		report(l, op ? config_setting_get_member(g, "action") : g,
		       "gpio needs action = \"set\", \"toggle\", \"pulse\" or \"get\"");
		return;
	}
	cmd->op = (enum gpio_op)k;
	if (cmd->op == GPIO_OP_SET || cmd->op == GPIO_OP_PULSE) {
		if (!config_setting_get_member(g, "value"))
			report(l, g, "gpio action \"%s\" needs value = 0 or 1", op);
		get_uint(l, g, "value", &value, 0, 1);
		cmd->value = (int)value;
	} else if (config_setting_get_member(g, "value")) {
		report(l, config_setting_get_member(g, "value"), "gpio action \"%s\" takes no value",
		       op);
	}
	if (cmd->op == GPIO_OP_PULSE) {
		if (!config_setting_get_member(g, "duration"))
			report(l, g, "gpio action \"pulse\" needs duration = seconds");
		get_seconds(l, g, "duration", &cmd->duration, 0.0, CONFIG_MAX_PULSE);
	} else if (config_setting_get_member(g, "duration")) {
		report(l, config_setting_get_member(g, "duration"), "only pulse takes a duration");
	}
	if (cmd->gpio_line != SIZE_MAX && cmd->op != GPIO_OP_GET &&
	    c->lines[cmd->gpio_line].direction != GPIO_OUTPUT)
		report(l, g, "gpio action \"%s\" needs an output line; \"%s\" is an input", op, line);
}

static void load_commands(struct loader *l, const config_setting_t *root, struct config *c)
{
	static const char *const keys[] = { "name", "exec", "gpio", "timeout", "output",
					    "concurrency", "env", NULL };
	const config_setting_t *list;
	int n = group_list(l, root, "commands", CONFIG_MAX_COMMANDS,
			   "( { name = ...; exec = [...]; }, ... )", &list);

	c->commands = xcalloc((size_t)n + 1, sizeof(struct command));
	c->all_commands = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct command *cmd = &c->commands[c->n_commands];
		const config_setting_t *e;
		const char *name;

		if (!want_type(l, g, "a command", CONFIG_TYPE_GROUP))
			continue;
		check_members(l, g, keys, "a command");
		cmd->line = (int)config_setting_source_line(g);
		cmd->timeout = DEFAULT_COMMAND_TIMEOUT;
		cmd->concurrency = 1;
		name = get_string(l, g, "name");
		if (!name) {
			report(l, g, "a command needs a name");
			name = "";
		} else if (!siot_valid_command(name, strlen(name))) {
			report(l, config_setting_get_member(g, "name"),
			       "command name \"%s\": use 1 to 64 of A-Z a-z 0-9 . _ -", name);
		} else if (c->params.profile == SIOT_PROFILE_CLASSIC && strlen(name) < 2) {
			report(l, config_setting_get_member(g, "name"),
			       "command name \"%s\": classic refuses one-character names "
			       "(a reflected request digest could pass for a response)",
			       name);
		}
		for (size_t j = 0; j < c->n_commands; j++)
			if (*name && strcmp(c->commands[j].name, name) == 0)
				report(l, g, "command \"%s\" is declared twice (first on line %d)",
				       name, c->commands[j].line);
		cmd->name = xstrdup(name);
		get_seconds(l, g, "timeout", &cmd->timeout, 0.0, 86400.0);
		get_bool(l, g, "output", &cmd->output);
		get_uint(l, g, "concurrency", &cmd->concurrency, 1, 1024);
		if ((e = config_setting_get_member(g, "env")))
			load_env(l, e, cmd);
		if (!cmd->env)
			cmd->env = xcalloc(1, sizeof(char *));
		e = config_setting_get_member(g, "exec");
		if (e && config_setting_get_member(g, "gpio"))
			report(l, g, "command \"%s\": give exec or gpio, not both", name);
		else if (config_setting_get_member(g, "gpio"))
			load_gpio_action(l, config_setting_get_member(g, "gpio"), c, cmd);
		else if (!e)
			report(l, g, "command \"%s\" needs an action: exec = [ ... ] or gpio = { ... }",
			       name);
		else
			load_exec(l, e, cmd);
		if (cmd->kind == ACTION_GPIO &&
		    (config_setting_get_member(g, "output") || config_setting_get_member(g, "env") ||
		     config_setting_get_member(g, "timeout")))
			report(l, g, "command \"%s\": output, env and timeout are for exec commands",
			       name);
		c->all_commands[c->n_commands] = cmd->name;
		c->n_commands++;
	}
}

/* ---- clients and keys ---------------------------------------------------- */

static char *key_path(struct loader *l, const char *file)
{
	char *p;

	if (file[0] == '/')
		return xstrdup(file);
	if (asprintf(&p, "%s/%s", l->dir, file) < 0)
		abort();
	return p;
}

static void load_key(struct loader *l, const config_setting_t *g, struct config *c,
		     struct client *cl, size_t index)
{
	const char *file = get_string(l, g, "key_file");
	const char *cred = get_string(l, g, "key_credential");
	uint8_t *raw = l->raw_keys + index * SIOT_MAX_KEY;
	char err[512], *path = NULL;
	enum keyfile_policy policy = KEYFILE_DAEMON;
	size_t len = 0;

	if (!!file == !!cred) {
		report(l, g, "client \"%s\" needs exactly one of key_file and key_credential", cl->id);
		return;
	}
	if (cred) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		if (!*cred || strchr(cred, '/') || !strcmp(cred, ".") || !strcmp(cred, "..")) {
			report(l, config_setting_get_member(g, "key_credential"),
			       "key_credential \"%s\" must be a credential name, not a path", cred);
			return;
		}
		if (!dir) {
			report(l, config_setting_get_member(g, "key_credential"),
			       "key_credential \"%s\": $CREDENTIALS_DIRECTORY is not set "
			       "(pass it with LoadCredential=%s:/path in the unit)",
			       cred, cred);
			return;
		}
		if (asprintf(&path, "%s/%s", dir, cred) < 0)
			abort();
		policy = KEYFILE_TRUSTED;
	} else {
		path = key_path(l, file);
	}
	if (keyfile_load(path, policy, raw, &len, err, sizeof(err)) < 0) {
		report(l, config_setting_get_member(g, cred ? "key_credential" : "key_file"), "%s",
		       err);
		free(path);
		return;
	}
	free(path);
	for (size_t j = 0; j < index; j++)
		if (l->raw_len[j] == len &&
		    sodium_memcmp(l->raw_keys + j * SIOT_MAX_KEY, raw, len) == 0)
			report(l, g, "clients \"%s\" and \"%s\" share a key: give each client its own",
			       c->clients[j].id, cl->id);
	l->raw_len[index] = len;
	cl->key = sodium_malloc(sizeof(*cl->key));
	if (!cl->key)
		abort();
	siot_key_init(cl->key, c->params.hash, raw, len);
}

static void load_clients(struct loader *l, const config_setting_t *root, struct config *c)
{
	static const char *const keys[] = { "id", "key_file", "key_credential", "commands", NULL };
	const config_setting_t *list;
	int n = group_list(l, root, "clients", CONFIG_MAX_CLIENTS,
			   "( { id = ...; key_file = ...; }, ... )", &list);

	c->clients = xcalloc((size_t)n + 1, sizeof(struct client));
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		const config_setting_t *cmds;
		struct client *cl = &c->clients[c->n_clients];
		const char *id;

		if (!want_type(l, g, "a client", CONFIG_TYPE_GROUP))
			continue;
		check_members(l, g, keys, "a client");
		id = get_string(l, g, "id");
		if (!id) {
			report(l, g, "a client needs an id");
			id = "";
		} else if (!siot_valid_id(id, strlen(id))) {
			report(l, config_setting_get_member(g, "id"),
			       "client id \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -", id);
		}
		for (size_t j = 0; j < c->n_clients; j++)
			if (*id && strcmp(c->clients[j].id, id) == 0)
				report(l, g, "client \"%s\" is declared twice", id);
		cl->id = xstrdup(id);

		cmds = config_setting_get_member(g, "commands");
		if (!cmds) {
			cl->n_commands = c->n_commands;
			cl->commands = xcalloc(c->n_commands + 1, sizeof(char *));
			cl->command_index = xcalloc(c->n_commands + 1, sizeof(size_t));
			for (size_t k = 0; k < c->n_commands; k++) {
				cl->commands[k] = c->commands[k].name;
				cl->command_index[k] = k;
			}
		} else if (config_setting_type(cmds) != CONFIG_TYPE_ARRAY &&
			   config_setting_type(cmds) != CONFIG_TYPE_LIST) {
			report(l, cmds, "commands of client \"%s\" must be an array of names", id);
			cl->commands = xcalloc(1, sizeof(char *));
			cl->command_index = xcalloc(1, sizeof(size_t));
		} else {
			int m = config_setting_length(cmds);
			cl->commands = xcalloc((size_t)m + 1, sizeof(char *));
			cl->command_index = xcalloc((size_t)m + 1, sizeof(size_t));
			for (int k = 0; k < m; k++) {
				const config_setting_t *e = config_setting_get_elem(cmds, (unsigned)k);
				size_t idx;

				if (!want_type(l, e, "a command name", CONFIG_TYPE_STRING))
					continue;
				idx = config_find_command(c, config_setting_get_string(e));
				if (idx == SIZE_MAX) {
					report(l, e, "client \"%s\": no command \"%s\" is declared", id,
					       config_setting_get_string(e));
					continue;
				}
				cl->commands[cl->n_commands] = c->commands[idx].name;
				cl->command_index[cl->n_commands++] = idx;
			}
		}
		load_key(l, g, c, cl, c->n_clients);
		c->n_clients++;
	}
}

static void build_candidates(struct config *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_clients; i++)
		n += c->clients[i].n_commands;
	c->candidates = xcalloc(n + 1, sizeof(*c->candidates));
	c->candidate_client = xcalloc(n + 1, sizeof(size_t));
	c->candidate_command = xcalloc(n + 1, sizeof(size_t));
	for (size_t i = 0; i < c->n_clients; i++) {
		const struct client *cl = &c->clients[i];
		if (!cl->key)
			continue;
		for (size_t k = 0; k < cl->n_commands; k++) {
			c->candidates[c->n_candidates] =
				(struct siot_candidate){ cl->key, cl->commands[k] };
			c->candidate_client[c->n_candidates] = i;
			c->candidate_command[c->n_candidates] = cl->command_index[k];
			c->n_candidates++;
		}
	}
}

/* ---- the whole file ------------------------------------------------------ */

int config_load(const char *path, struct config **out, config_report_fn reportfn, void *userdata)
{
	static const char *const keys[] = {
		"device_id", "protocol", "hash", "tag_length", "challenge_length",
		"wakeup_length", "listen", "timeout", "max_connections",
		"max_connections_per_source", "max_requests", "output_max", "backoff",
		"classic_response", "clients", "lines", "commands", NULL
	};
	struct loader l = { .path = path, .report = reportfn, .userdata = userdata };
	struct config *c;
	config_t cf;
	const config_setting_t *root;
	uint8_t dummy[SIOT_KEYGEN_LEN];
	char *slash;

	*out = NULL;
	config_init(&cf);
	if (config_read_file(&cf, path) != CONFIG_TRUE) {
		const char *file = config_error_file(&cf);
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
			reportfn(userdata, path, 0, strerror(errno ? errno : ENOENT));
		else
			reportfn(userdata, file ? file : path, config_error_line(&cf),
				 config_error_text(&cf));
		config_destroy(&cf);
		return -EINVAL;
	}
	l.dir = xstrdup(path);
	slash = strrchr(l.dir, '/');
	if (!slash)
		strcpy(l.dir, "."); /* path has at least one character: room for "." */
	else if (slash == l.dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	l.raw_keys = sodium_malloc(CONFIG_MAX_CLIENTS * SIOT_MAX_KEY);
	if (!l.raw_keys)
		abort();

	c = xcalloc(1, sizeof(*c));
	c->refs = 1;
	c->path = xstrdup(path);
	root = config_root_setting(&cf);
	check_members(&l, root, keys, NULL);
	load_params(&l, root, c);
	load_listen(&l, root, c);
	load_limits(&l, root, c);
	load_lines(&l, root, c);
	load_commands(&l, root, c);
	load_clients(&l, root, c);
	build_candidates(c);

	c->dummy_key = sodium_malloc(sizeof(*c->dummy_key));
	if (!c->dummy_key)
		abort();
	randombytes_buf(dummy, sizeof(dummy));
	siot_key_init(c->dummy_key, c->params.hash, dummy, sizeof(dummy));
	sodium_memzero(dummy, sizeof(dummy));

	sodium_free(l.raw_keys);
	free(l.dir);
	config_destroy(&cf);
	flush_problems(&l);
	if (l.errors) {
		config_unref(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

struct config *config_ref(struct config *c)
{
	c->refs++;
	return c;
}

static void free_strv(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

void config_unref(struct config *c)
{
	if (!c || --c->refs > 0)
		return;
	for (size_t i = 0; i < c->n_clients; i++) {
		if (c->clients[i].key) {
			siot_key_wipe(c->clients[i].key);
			sodium_free(c->clients[i].key);
		}
		free(c->clients[i].id);
		free(c->clients[i].commands);
		free(c->clients[i].command_index);
	}
	free(c->clients);
	for (size_t i = 0; i < c->n_commands; i++) {
		free(c->commands[i].name);
		free_strv(c->commands[i].argv);
		free_strv(c->commands[i].env);
	}
	free(c->commands);
	for (size_t i = 0; i < c->n_lines; i++) {
		free(c->lines[i].name);
		free(c->lines[i].chip);
		free(c->lines[i].chip_path);
	}
	free(c->lines);
	free(c->all_commands);
	free(c->candidates);
	free(c->candidate_client);
	free(c->candidate_command);
	if (c->dummy_key) {
		siot_key_wipe(c->dummy_key);
		sodium_free(c->dummy_key);
	}
	free_strv(c->listen);
	free(c->path);
	free(c);
}

const struct client *config_find_client(const struct config *c, const char *id)
{
	for (size_t i = 0; i < c->n_clients; i++)
		if (strcmp(c->clients[i].id, id) == 0)
			return &c->clients[i];
	return NULL;
}

size_t config_find_command(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_commands; i++)
		if (strcmp(c->commands[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}
