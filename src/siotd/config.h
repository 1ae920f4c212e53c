/* SPDX-License-Identifier: MIT */
/*
 * /etc/siot.conf (libconfig syntax) -> one immutable, validated struct
 * config.  Nothing writes a config after config_load returns; connections
 * hold a reference to the config they started with, so a reload swaps in a
 * new one without disturbing them.  See siot.conf(5) for every setting.
 */
#ifndef SIOTD_CONFIG_H
#define SIOTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "gpio.h"
#include "siot.h"

#define CONFIG_DEFAULT_PATH "/etc/siot.conf"
#define CONFIG_DEFAULT_LISTEN "[::]:7468"
#define CONFIG_MAX_CLIENTS 256
#define CONFIG_MAX_COMMANDS 256
#define CONFIG_MAX_LISTEN 16
#define CONFIG_MAX_ARGS 64
#define CONFIG_MAX_ENV 64
#define CONFIG_MAX_BACKOFF_FAILURES 64
#define CONFIG_MAX_LINES 256
#define CONFIG_MAX_PULSE 3600.0

enum action_kind { ACTION_EXEC, ACTION_GPIO };
enum gpio_op { GPIO_OP_SET, GPIO_OP_TOGGLE, GPIO_OP_PULSE, GPIO_OP_GET };

struct command {
	char *name;
	enum action_kind kind;
	/* gpio */
	size_t gpio_line;       /* index into config.lines */
	enum gpio_op op;
	int value;              /* set, pulse */
	double duration;        /* pulse, seconds */
	/* exec */
	char **argv;            /* NULL-terminated; argv[0] is an absolute path */
	char **env;             /* "NAME=value" entries, NULL-terminated */
	double timeout;         /* seconds the script may run */
	bool output;            /* return stdout, sealed */
	unsigned concurrency;   /* runs of this command at once */
	int line;               /* where it was declared */
};

struct client {
	char *id;
	struct siot_key *key;   /* in locked memory (sodium_malloc) */
	const char **commands;  /* names it may run, NULL-terminated (point into config) */
	size_t *command_index;  /* index into config.commands, parallel to commands */
	size_t n_commands;
};

struct backoff_config {
	unsigned failures;
	double window, base, max; /* seconds */
};

struct config {
	unsigned refs;
	char *path;

	struct siot_params params;
	char device_id[SIOT_MAX_ID + 1];
	char **listen;          /* NULL-terminated */
	double timeout;         /* seconds for one exchange */
	unsigned max_connections, max_connections_per_source, max_requests, output_max;
	struct backoff_config backoff;
	bool classic_response;

	struct client *clients;
	size_t n_clients;
	struct command *commands;
	size_t n_commands;
	struct gpio_line_decl *lines;
	size_t n_lines;

	/* Unknown clients are scanned with a secret random key against every
	 * command, so they cost what a known client costs. */
	struct siot_key *dummy_key;
	const char **all_commands; /* NULL-terminated */

	/* classic: every (client, allowed command) pair. */
	struct siot_candidate *candidates;
	size_t *candidate_client, *candidate_command;
	size_t n_candidates;
};

/* Called once per problem found; line is 0 when there is none. */
typedef void (*config_report_fn)(void *userdata, const char *file, int line, const char *msg);

/*
 * Load and validate path.  Reports every problem through report (all of
 * them, not just the first) and returns -EINVAL if there was any, else 0 with
 * *out holding a config with one reference.  Reads key files and systemd
 * credentials ($CREDENTIALS_DIRECTORY) as part of validation.
 */
int config_load(const char *path, struct config **out, config_report_fn report, void *userdata);

struct config *config_ref(struct config *c);
/* Drop a reference; the last one wipes the keys and frees everything. */
void config_unref(struct config *c);

/* Lookups; NULL / SIZE_MAX when absent. */
const struct client *config_find_client(const struct config *c, const char *id);
size_t config_find_command(const struct config *c, const char *name);

#endif
