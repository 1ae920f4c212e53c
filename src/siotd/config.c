/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_parse.h"
#include "keys.h"
#include "usec.h"

#define DEFAULT_COMMAND_TIMEOUT_USEC (30 * USEC_PER_SEC)

char *config_xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort(); /* out of memory while loading: nothing sensible to do */
	return d;
}

void *config_xcalloc(size_t n, size_t size)
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

static void load_params(struct cfg_reader *r, const config_setting_t *root, struct config *c)
{
	static const char *const profiles[] = { [SIOT_PROFILE_V1] = "v1",
						[SIOT_PROFILE_CLASSIC] = "classic" };
	static const char *const hashes[] = { "sha256", "sha512" };
	int profile = SIOT_PROFILE_V1, hash_index = 0;
	enum siot_hash hash;
	unsigned tag = 0, challenge = SIOT_DEFAULT_CHALLENGE, wakeup = 0;
	const char *s;

	cfg_get_enum(r, root, "protocol", profiles, 2, "\"v1\" or \"classic\"", &profile);
	if (cfg_get_enum(r, root, "hash", hashes, 2, "\"sha256\" or \"sha512\"", &hash_index))
		siot_hash_from_name(hashes[hash_index], &hash);
	else
		hash = SIOT_HASH_SHA256;
	cfg_get_uint(r, root, "tag_length", &tag, SIOT_MIN_TAG, (unsigned)siot_digest_length(hash));
	cfg_get_uint(r, root, "challenge_length", &challenge, SIOT_MIN_CHALLENGE, SIOT_MAX_CHALLENGE);
	cfg_get_uint(r, root, "wakeup_length", &wakeup, 0, SIOT_MAX_WAKEUP);
	if (profile == SIOT_PROFILE_CLASSIC && tag && tag != siot_digest_length(hash))
		cfg_report(r, config_setting_get_member(root, "tag_length"),
			   "tag_length = %u: classic always uses the full digest (%zu)", tag,
			   siot_digest_length(hash));
	if (siot_params_init(&c->params, (enum siot_profile)profile, hash, tag, challenge, wakeup) < 0)
		siot_params_init(&c->params, (enum siot_profile)profile, hash, 0,
				 SIOT_DEFAULT_CHALLENGE, 0);

	default_device_id(c->device_id);
	if ((s = cfg_get_string(r, root, "device_id"))) {
		if (!siot_valid_id(s, strlen(s)))
			cfg_report(r, config_setting_get_member(root, "device_id"),
				   "device_id = \"%s\": use " CONFIG_ID_RULE, s);
		else
			snprintf(c->device_id, sizeof(c->device_id), "%s", s);
	}
}

static void load_listen(struct cfg_reader *r, const config_setting_t *root, struct config *c)
{
	const config_setting_t *s = config_setting_get_member(root, "listen");
	int n;

	if (!s) {
		c->listen = config_xcalloc(2, sizeof(char *));
		c->listen[0] = config_xstrdup(CONFIG_DEFAULT_LISTEN);
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		c->listen = config_xcalloc(2, sizeof(char *));
		c->listen[0] = config_xstrdup(config_setting_get_string(s));
		return;
	}
	if (!cfg_is_sequence(s)) {
		cfg_report(r, s, "listen must be an array of \"ADDRESS:PORT\" strings");
		c->listen = config_xcalloc(1, sizeof(char *));
		return;
	}
	n = config_setting_length(s);
	if (n > CONFIG_MAX_LISTEN)
		cfg_report(r, s, "listen: at most %d addresses", CONFIG_MAX_LISTEN);
	c->listen = config_xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0, k = 0; i < n && k < CONFIG_MAX_LISTEN; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (cfg_want_type(r, e, "listen entry", CONFIG_TYPE_STRING))
			c->listen[k++] = config_xstrdup(config_setting_get_string(e));
	}
}

static void load_limits(struct cfg_reader *r, const config_setting_t *root, struct config *c)
{
	static const char *const backoff_keys[] = { "failures", "source_failures", "window",
						     "base", "max", NULL };
	bool handshake;
	const config_setting_t *b;

	c->timeout_usec = 5 * USEC_PER_SEC;
	c->max_connections = 64;
	c->max_connections_per_source = 8;
	c->max_requests = 1;
	c->output_max = SIOT_MAX_OUTPUT;
	c->backoff = (struct backoff_config){ .failures = 5,
					      .source_failures = 20,
					      .window_usec = 60 * USEC_PER_SEC,
					      .base_usec = 1 * USEC_PER_SEC,
					      .max_usec = 300 * USEC_PER_SEC };
	c->classic_response = true;

	cfg_get_usec(r, root, "timeout", &c->timeout_usec, CONFIG_MIN_TIMEOUT, 3600.0);
	c->handshake_timeout_usec = 2 * USEC_PER_SEC;
	handshake = cfg_get_usec(r, root, "handshake_timeout", &c->handshake_timeout_usec,
				 CONFIG_MIN_TIMEOUT, 3600.0);
	if (handshake && c->handshake_timeout_usec > c->timeout_usec)
		cfg_report(r, config_setting_get_member(root, "handshake_timeout"),
			   "handshake_timeout (%g) is more than timeout (%g)",
			   (double)c->handshake_timeout_usec / USEC_PER_SEC,
			   (double)c->timeout_usec / USEC_PER_SEC);
	else if (!handshake && c->handshake_timeout_usec > c->timeout_usec)
		c->handshake_timeout_usec = c->timeout_usec; /* the default is at most timeout */
	cfg_get_uint(r, root, "max_connections", &c->max_connections, 1, 65535);
	if (config_setting_get_member(root, "max_connections"))
		c->max_connections_line =
			(int)config_setting_source_line(config_setting_get_member(root, "max_connections"));
	cfg_get_uint(r, root, "max_connections_per_source", &c->max_connections_per_source, 1,
		     65535);
	cfg_get_uint(r, root, "max_requests", &c->max_requests, 1, 1000000);
	cfg_get_uint(r, root, "output_max", &c->output_max, 0, SIOT_MAX_OUTPUT);
	cfg_get_bool(r, root, "classic_response", &c->classic_response);
	if (c->max_connections_per_source > c->max_connections)
		cfg_report(r, config_setting_get_member(root, "max_connections_per_source"),
			   "max_connections_per_source (%u) is more than max_connections (%u)",
			   c->max_connections_per_source, c->max_connections);

	b = config_setting_get_member(root, "backoff");
	if (b && cfg_want_type(r, b, "backoff", CONFIG_TYPE_GROUP)) {
		cfg_check_members(r, b, backoff_keys, "backoff");
		cfg_get_uint(r, b, "failures", &c->backoff.failures, 1, CONFIG_MAX_BACKOFF_FAILURES);
		cfg_get_uint(r, b, "source_failures", &c->backoff.source_failures, 1,
			     CONFIG_MAX_BACKOFF_FAILURES);
		cfg_get_usec(r, b, "window", &c->backoff.window_usec, CONFIG_MIN_BACKOFF, 86400.0);
		cfg_get_usec(r, b, "base", &c->backoff.base_usec, CONFIG_MIN_BACKOFF, 86400.0);
		cfg_get_usec(r, b, "max", &c->backoff.max_usec, CONFIG_MIN_BACKOFF, 86400.0);
		if (c->backoff.max_usec < c->backoff.base_usec)
			cfg_report(r, b, "backoff: max (%g) is less than base (%g)",
				   (double)c->backoff.max_usec / USEC_PER_SEC,
				   (double)c->backoff.base_usec / USEC_PER_SEC);
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

static void load_exec(struct cfg_reader *r, const config_setting_t *e, struct command *cmd)
{
	int n = config_setting_length(e);

	cmd->kind = ACTION_EXEC;
	if (!cfg_is_sequence(e)) {
		cfg_report(r, e, "exec must be an array: [ \"/absolute/path\", \"arg\", ... ]");
		return;
	}
	if (n < 1 || n > CONFIG_MAX_ARGS) {
		cfg_report(r, e, "exec needs a program and at most %d arguments", CONFIG_MAX_ARGS - 1);
		return;
	}
	cmd->argv = config_xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		const config_setting_t *a = config_setting_get_elem(e, (unsigned)i);
		bool ok = cfg_want_type(r, a, "exec argument", CONFIG_TYPE_STRING);

		cmd->argv[i] = config_xstrdup(ok ? config_setting_get_string(a) : "");
	}
	if (cmd->argv[0][0] != '/')
		cfg_report(r, e,
			   "exec: \"%s\" must be an absolute path (there is no shell and no PATH search)",
			   cmd->argv[0]);
	else
		cmd->exec_line = (int)config_setting_source_line(e); /* checked by config_resolve */
}

static void load_env(struct cfg_reader *r, const config_setting_t *g, struct command *cmd)
{
	int n;

	if (!cfg_want_type(r, g, "env", CONFIG_TYPE_GROUP))
		return;
	n = config_setting_length(g);
	if (n > CONFIG_MAX_ENV) {
		cfg_report(r, g, "env: at most %d variables", CONFIG_MAX_ENV);
		n = CONFIG_MAX_ENV;
	}
	cmd->env = config_xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0, k = 0; i < n; i++) {
		const config_setting_t *v = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(v);
		char *entry;

		if (!cfg_want_type(r, v, "an env value", CONFIG_TYPE_STRING))
			continue;
		if (!name || !valid_env_name(name) || strncmp(name, "SIOT_", 5) == 0) {
			cfg_report(r, v, "env: '%s' is not a variable name a command may set%s",
				   name ? name : "?",
				   name && !strncmp(name, "SIOT_", 5) ? " (SIOT_* are set by siotd)" : "");
			continue;
		}
		if (asprintf(&entry, "%s=%s", name, config_setting_get_string(v)) < 0)
			abort();
		cmd->env[k++] = entry;
	}
}

static void load_command(struct cfg_reader *r, const config_setting_t *g, struct config *c,
			 struct command *cmd)
{
	static const char *const keys[] = { "name", "exec", "gpio", "timeout", "output",
					    "concurrency", "env", NULL };
	const config_setting_t *exec = config_setting_get_member(g, "exec");
	const config_setting_t *gpio = config_setting_get_member(g, "gpio");
	const config_setting_t *e;
	const char *name;

	cfg_check_members(r, g, keys, "a command");
	cmd->line = (int)config_setting_source_line(g);
	cmd->timeout_usec = DEFAULT_COMMAND_TIMEOUT_USEC;
	cmd->concurrency = 1;
	name = cfg_get_string(r, g, "name");
	if (!name) {
		cfg_report(r, g, "a command needs a name");
		name = "";
	} else if (!siot_valid_command(name, strlen(name))) {
		cfg_report(r, config_setting_get_member(g, "name"),
			   "command name \"%s\": use 1 to 64 of A-Z a-z 0-9 . _ -", name);
	} else if (c->params.profile == SIOT_PROFILE_CLASSIC && strlen(name) < 2) {
		cfg_report(r, config_setting_get_member(g, "name"),
			   "command name \"%s\": classic refuses one-character names "
			   "(a reflected request digest could pass for a response)",
			   name);
	}
	for (size_t j = 0; j < c->n_commands; j++)
		if (*name && strcmp(c->commands[j].name, name) == 0)
			cfg_report(r, g, "command \"%s\" is declared twice (first on line %d)", name,
				   c->commands[j].line);
	cmd->name = config_xstrdup(name);
	cfg_get_usec(r, g, "timeout", &cmd->timeout_usec, CONFIG_MIN_TIMEOUT, 86400.0);
	cfg_get_bool(r, g, "output", &cmd->output);
	cfg_get_uint(r, g, "concurrency", &cmd->concurrency, 1, 1024);
	if ((e = config_setting_get_member(g, "env")))
		load_env(r, e, cmd);
	if (!cmd->env)
		cmd->env = config_xcalloc(1, sizeof(char *));
	if (exec && gpio)
		cfg_report(r, g, "command \"%s\": give exec or gpio, not both", name);
	else if (gpio)
		config_load_gpio_action(r, gpio, c, cmd);
	else if (exec)
		load_exec(r, exec, cmd);
	else
		cfg_report(r, g, "command \"%s\" needs an action: exec = [ ... ] or gpio = { ... }",
			   name);
	if (cmd->kind == ACTION_GPIO &&
	    (config_setting_get_member(g, "env") || config_setting_get_member(g, "timeout")))
		cfg_report(r, g, "command \"%s\": env and timeout are for exec commands", name);
	if (cmd->kind == ACTION_GPIO && cmd->op != GPIO_OP_GET &&
	    config_setting_get_member(g, "output"))
		cfg_report(r, config_setting_get_member(g, "output"),
			   "command \"%s\": output is for exec commands and gpio get", name);
	/* A get answers with its value as text ("0\n", "1\n") unless told not to. */
	if (cmd->kind == ACTION_GPIO && cmd->op == GPIO_OP_GET &&
	    !config_setting_get_member(g, "output"))
		cmd->output = true;
}

static void load_commands(struct cfg_reader *r, const config_setting_t *root, struct config *c)
{
	const config_setting_t *list;
	int n = cfg_get_list(r, root, "commands", CONFIG_MAX_COMMANDS,
			     "( { name = ...; exec = [...]; }, ... )", &list);

	c->commands = config_xcalloc((size_t)n + 1, sizeof(struct command));
	c->all_commands = config_xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct command *cmd = &c->commands[c->n_commands];

		if (!cfg_want_type(r, g, "a command", CONFIG_TYPE_GROUP))
			continue;
		load_command(r, g, c, cmd);
		c->all_commands[c->n_commands++] = cmd->name;
	}
}

/* ---- the whole file ------------------------------------------------------ */

static char *dir_of(const char *path)
{
	char *dir = config_xstrdup(path);
	char *slash = strrchr(dir, '/');

	if (!slash)
		strcpy(dir, "."); /* path has at least one character: room for "." */
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return dir;
}

int config_load(const char *path, struct config **out, struct cfg_reader *r)
{
	static const char *const keys[] = {
		"device_id", "protocol", "hash", "tag_length", "challenge_length",
		"wakeup_length", "listen", "timeout", "handshake_timeout", "max_connections",
		"max_connections_per_source", "max_requests", "output_max", "backoff",
		"classic_response", "clients", "lines", "commands", "mqtt", NULL
	};
	const config_setting_t *root, *listen;
	struct config *c;
	config_t cf;

	*out = NULL;
	config_init(&cf);
	if (cfg_read_file(r, &cf) < 0) {
		config_destroy(&cf);
		return -EINVAL;
	}
	c = config_xcalloc(1, sizeof(*c));
	c->refs = 1;
	c->path = config_xstrdup(path);
	c->dir = dir_of(path);
	root = config_root_setting(&cf);
	cfg_check_members(r, root, keys, NULL);
	load_params(r, root, c);
	load_listen(r, root, c);
	config_load_mqtt(r, root, c);
	listen = config_setting_get_member(root, "listen");
	if (!c->mqtt && listen && cfg_is_sequence(listen) && config_setting_length(listen) == 0)
		cfg_report(r, listen,
			   "listen = [] leaves nothing to serve: give an address, or mqtt = { ... }");
	load_limits(r, root, c);
	config_load_lines(r, root, c);
	load_commands(r, root, c);
	config_load_clients(r, root, c);
	config_destroy(&cf);
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
		for (size_t k = 0; k < c->clients[i].n_keys; k++) {
			keys_free(c->clients[i].keys[k].key);
			free(c->clients[i].keys[k].file);
			free(c->clients[i].keys[k].credential);
		}
		free(c->clients[i].id);
		free(c->clients[i].commands);
		free(c->clients[i].allowed);
		free(c->clients[i].may_run);
		free(c->clients[i].from);
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
		free(c->lines[i].line_name);
		free(c->lines[i].chip_path);
	}
	free(c->lines);
	free(c->all_commands);
	free(c->classic.candidates);
	free(c->classic.client);
	free(c->classic.command);
	free(c->classic.key);
	keys_free(c->dummy_key);
	free_strv(c->listen);
	config_free_mqtt(c->mqtt);
	free(c->dir);
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

const struct command *config_find_command(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_commands; i++)
		if (strcmp(c->commands[i].name, name) == 0)
			return &c->commands[i];
	return NULL;
}
