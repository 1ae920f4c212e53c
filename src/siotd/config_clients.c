/* SPDX-License-Identifier: MIT */
/*
 * The clients list of siot.conf: each client's id, its keys (files or
 * systemd credentials, read later by config_resolve), the addresses it may
 * come from (from) and the commands it may run (commands), and classic's
 * bound on the work one request may cost.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"
#include "keys.h"

static void allow(struct config *c, struct client *cl, const struct command *cmd)
{
	cl->may_run[cmd - c->commands] = true;
	cl->commands[cl->n_commands] = cmd->name;
	cl->allowed[cl->n_commands++] = cmd;
}

static void load_allowed(struct cfg_reader *r, const config_setting_t *g, struct config *c,
			 struct client *cl)
{
	const config_setting_t *cmds = config_setting_get_member(g, "commands");
	int m;

	cl->may_run = config_xcalloc(c->n_commands, sizeof(bool));
	if (!cmds) {
		cl->commands = config_xcalloc(c->n_commands + 1, sizeof(char *));
		cl->allowed = config_xcalloc(c->n_commands + 1, sizeof(*cl->allowed));
		for (size_t k = 0; k < c->n_commands; k++)
			allow(c, cl, &c->commands[k]);
		return;
	}
	cl->restricted = true;
	if (!cfg_is_sequence(cmds)) {
		cfg_report(r, cmds, "commands of client \"%s\" must be an array of names", cl->id);
		cl->commands = config_xcalloc(1, sizeof(char *));
		cl->allowed = config_xcalloc(1, sizeof(*cl->allowed));
		return;
	}
	m = config_setting_length(cmds);
	cl->commands = config_xcalloc((size_t)m + 1, sizeof(char *));
	cl->allowed = config_xcalloc((size_t)m + 1, sizeof(*cl->allowed));
	for (int k = 0; k < m; k++) {
		const config_setting_t *e = config_setting_get_elem(cmds, (unsigned)k);
		const struct command *cmd;

		if (!cfg_want_type(r, e, "a command name", CONFIG_TYPE_STRING))
			continue;
		cmd = config_find_command(c, config_setting_get_string(e));
		if (!cmd) {
			cfg_report(r, e, "client \"%s\": no command \"%s\" is declared", cl->id,
				   config_setting_get_string(e));
			continue;
		}
		if (cl->may_run[cmd - c->commands]) {
			cfg_report(r, e, "client \"%s\": command \"%s\" is listed twice", cl->id,
				   cmd->name);
			continue;
		}
		allow(c, cl, cmd);
	}
}

/* from = [ "192.168.1.0/24", "fd00::/8", "unix" ]: where the client may
 * connect from. */
static void load_from(struct cfg_reader *r, const config_setting_t *g, struct client *cl,
		      bool mqtt)
{
	const config_setting_t *list = config_setting_get_member(g, "from");
	char err[300];
	int n;

	if (!list)
		return;
	if (!cfg_is_sequence(list)) {
		cfg_report(r, list, "from must be an array of networks: [ \"192.168.1.0/24\", ... ]");
		return;
	}
	n = config_setting_length(list);
	if (n == 0) {
		cfg_report(r, list, "from = [] would let client \"%s\" in from nowhere; leave from "
				    "out to allow every address",
			   cl->id);
		return;
	}
	if (n > NETMATCH_MAX_RULES) {
		cfg_report(r, list, "from: at most %d entries", NETMATCH_MAX_RULES);
		return;
	}
	cl->from = config_xcalloc((size_t)n, sizeof(*cl->from));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		const char *text;

		if (!cfg_want_type(r, e, "a from entry", CONFIG_TYPE_STRING))
			continue;
		text = config_setting_get_string(e);
		if (strcmp(text, "mqtt") == 0 && !mqtt) {
			cfg_report(r, e, "from: \"mqtt\": there is no mqtt = { ... } to come through");
			continue;
		}
		if (net_rule_parse(text, &cl->from[cl->n_from], err, sizeof(err)) < 0) {
			cfg_report(r, e, "from: %s", err);
			continue;
		}
		cl->n_from++;
	}
}

/* One key named by setting s (a string, or an element of an array). */
static void add_key(struct cfg_reader *r, const config_setting_t *s, bool credential,
		    struct client *cl, unsigned *named)
{
	const char *text;

	if (!cfg_want_type(r, s, credential ? "a key_credentials entry" : "a key_files entry",
			   CONFIG_TYPE_STRING))
		return;
	text = config_setting_get_string(s);
	(*named)++;
	if (credential && !keys_valid_credential_name(text)) {
		cfg_report(r, s, "key_credential \"%s\" must be a credential name, not a path", text);
		return;
	}
	if (cl->n_keys == CONFIG_MAX_KEYS)
		return; /* counted: reported below */
	cl->keys[cl->n_keys].line = (int)config_setting_source_line(s);
	if (credential)
		cl->keys[cl->n_keys].credential = config_xstrdup(text);
	else
		cl->keys[cl->n_keys].file = config_xstrdup(text);
	cl->n_keys++;
}

/* key_file, key_files, key_credential, key_credentials: one to
 * CONFIG_MAX_KEYS keys in all, in that order (a client rotating its key
 * has the new one and the old one for a while). */
static void load_keys(struct cfg_reader *r, const config_setting_t *g, struct client *cl)
{
	static const char *const settings[] = { "key_file", "key_files", "key_credential",
						"key_credentials" };
	unsigned named = 0;
	bool present = false;

	for (int i = 0; i < 4; i++) {
		const config_setting_t *s = config_setting_get_member(g, settings[i]);
		bool credential = i >= 2, list = i % 2 == 1;

		if (!s)
			continue;
		present = true;
		if (!list) {
			add_key(r, s, credential, cl, &named);
			continue;
		}
		if (!cfg_is_sequence(s) || config_setting_length(s) == 0) {
			cfg_report(r, s, "%s must be an array of one or more %s", settings[i],
				   credential ? "credential names" : "key files");
			continue;
		}
		for (int k = 0; k < config_setting_length(s); k++)
			add_key(r, config_setting_get_elem(s, (unsigned)k), credential, cl, &named);
	}
	if (!present) {
		cfg_report(r, g, "client \"%s\" needs a key: key_file, key_files, key_credential or "
				 "key_credentials",
			   cl->id);
	} else if (named > CONFIG_MAX_KEYS) {
		cfg_report(r, g, "client \"%s\" has %u keys; at most %d (to rotate: add the new key, "
				 "move the client over, remove the old one)",
			   cl->id, named, CONFIG_MAX_KEYS);
		/* Not read at all: the list is wrong as a whole. */
		for (size_t k = 0; k < cl->n_keys; k++) {
			free(cl->keys[k].file);
			free(cl->keys[k].credential);
			cl->keys[k] = (struct client_key){ 0 };
		}
		cl->n_keys = 0;
	}
}

static void load_client(struct cfg_reader *r, const config_setting_t *g, struct config *c,
			struct client *cl)
{
	static const char *const keys[] = { "id",	     "key_file", "key_files", "key_credential",
					    "key_credentials", "commands", "from",	  NULL };
	const char *id;

	cfg_check_members(r, g, keys, "a client");
	cl->line = (int)config_setting_source_line(g);
	id = cfg_get_string(r, g, "id");
	if (!id) {
		cfg_report(r, g, "a client needs an id");
		id = "";
	} else if (!siot_valid_id(id, strlen(id))) {
		cfg_report(r, config_setting_get_member(g, "id"), "client id \"%s\": use " CONFIG_ID_RULE,
			   id);
	}
	for (size_t j = 0; j < c->n_clients; j++)
		if (*id && strcmp(c->clients[j].id, id) == 0)
			cfg_report(r, g, "client \"%s\" is declared twice", id);
	cl->id = config_xstrdup(id);
	load_allowed(r, g, c, cl);
	load_from(r, g, cl, c->mqtt != NULL);

	load_keys(r, g, cl);
	if (cl->n_keys > c->max_keys)
		c->max_keys = cl->n_keys;
}

/* classic tries every (client key, allowed command) pair on each request.
 * Bound that, as siot-protocol(7) says, by what a v1 request costs: the
 * number of commands times the most keys a client has. */
static void check_classic_work(struct cfg_reader *r, const config_setting_t *list,
			       const struct config *c)
{
	size_t pairs = 0, bound = c->n_commands * c->max_keys;

	if (c->params.profile != SIOT_PROFILE_CLASSIC)
		return;
	for (size_t i = 0; i < c->n_clients; i++)
		pairs += c->clients[i].n_commands * (c->clients[i].n_keys ? c->clients[i].n_keys : 1);
	if (pairs > bound)
		cfg_report(r, list,
			   "classic: the clients may run %zu (client, key, command) pairs in all, and "
			   "each request tries every one; at most %zu, the number of commands times "
			   "the most keys a client has, so that no request costs more than a v1 "
			   "request: give clients their own commands lists, or use protocol v1",
			   pairs, bound);
}

void config_load_clients(struct cfg_reader *r, const config_setting_t *root, struct config *c)
{
	const config_setting_t *list;
	int n = cfg_get_list(r, root, "clients", CONFIG_MAX_CLIENTS,
			     "( { id = ...; key_file = ...; }, ... )", &list);

	c->clients = config_xcalloc((size_t)n + 1, sizeof(struct client));
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);

		if (!cfg_want_type(r, g, "a client", CONFIG_TYPE_GROUP))
			continue;
		load_client(r, g, c, &c->clients[c->n_clients]);
		c->n_clients++;
	}
	if (c->max_keys == 0)
		c->max_keys = 1;
	check_classic_work(r, list, c);
}
