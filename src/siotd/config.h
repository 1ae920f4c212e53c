/* SPDX-License-Identifier: MIT */
/*
 * /etc/siot.conf (libconfig syntax) -> one immutable struct config.
 *
 * Two steps, both reporting every problem as file:line into one
 * cfg_reader:
 *   config_load     parses and validates the file alone (no file other
 *                   than the config is opened, no device is touched);
 *   config_resolve  (resolve.c) reads the keys, finds the GPIO chips and
 *                   lines and checks that every exec program can be run.
 * config_load_and_resolve does both and hands the sorted problems to a report function.
 *
 * Nothing writes a config after it is resolved; connections hold a
 * reference to the config they use, so a reload swaps in a new one without
 * disturbing them.  See siot.conf(5) for every setting.
 */
#ifndef SIOTD_CONFIG_H
#define SIOTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "gpio.h"
#include "keyfile.h"
#include "netmatch.h"
#include "siot.h"

#define CONFIG_DEFAULT_PATH "/etc/siot.conf"
#define CONFIG_DEFAULT_LISTEN "7468"
#define CONFIG_MAX_CLIENTS 256
#define CONFIG_MAX_KEYS 4        /* keys per client (rotation) */
#define CONFIG_MAX_COMMANDS 256
#define CONFIG_MAX_LISTEN 16
#define CONFIG_MAX_ARGS 64
#define CONFIG_MAX_ENV 64
#define CONFIG_MAX_BACKOFF_FAILURES 64
#define CONFIG_MAX_LINES 256
#define CONFIG_MAX_PULSE 3600.0
#define CONFIG_DEFAULT_MQTT_SESSIONS 64
#define CONFIG_DEFAULT_MQTT_RATE 100
#define CONFIG_MAX_MQTT_RATE 100000
#define CONFIG_MAX_MQTT_SESSIONS 4096
/* The shortest durations siot.conf(5) allows, in seconds. */
#define CONFIG_MIN_TIMEOUT 0.1   /* timeout, a command's timeout */
#define CONFIG_MIN_PULSE 0.001   /* a pulse's duration */
#define CONFIG_MIN_BACKOFF 0.001 /* backoff window, base and max */

enum action_kind { ACTION_EXEC, ACTION_GPIO };
enum gpio_op { GPIO_OP_SET, GPIO_OP_TOGGLE, GPIO_OP_PULSE, GPIO_OP_GET };

/* Everything an action needs to run: no action looks at the rest of the
 * config. */
struct command {
	char *name;
	enum action_kind kind;
	/* gpio */
	const struct gpio_line_decl *gpio_line; /* its line, in the same config */
	enum gpio_op op;
	int value;               /* set, pulse */
	uint64_t duration_usec;  /* pulse */
	/* exec */
	char **argv;             /* NULL-terminated; argv[0] is an absolute path */
	char **env;              /* "NAME=value" entries, NULL-terminated */
	uint64_t timeout_usec;   /* how long the script may run */
	bool output;             /* return stdout, sealed */
	unsigned concurrency;    /* runs of this command at once */
	int line;                /* where it was declared */
	int exec_line;           /* where its exec = [...] is, for config_resolve */
};

/* One of a client's keys (several while it rotates them). */
struct client_key {
	/* Exactly one of these is set. */
	char *file;              /* absolute, or relative to the config's folder */
	char *credential;        /* a name in $CREDENTIALS_DIRECTORY */
	int line;                /* where it is named */
	struct siot_key *key;    /* set by config_resolve, in locked memory */
	char fingerprint[KEYFILE_FINGERPRINT_LEN]; /* set by config_resolve: for the log */
};

struct client {
	char *id;
	struct client_key keys[CONFIG_MAX_KEYS]; /* key_file(s), key_credential(s), in order */
	size_t n_keys;
	const char **commands;   /* names it may run, NULL-terminated (point into config) */
	const struct command **allowed; /* the same commands, parallel to `commands` */
	size_t n_commands;
	bool *may_run;           /* indexed like config.commands */
	bool restricted;         /* has its own commands list */
	struct net_rule *from;   /* where it may connect from; NULL: anywhere */
	size_t n_from;
	int line;
};

struct backoff_config {
	unsigned failures;         /* per (source, known client id) */
	unsigned source_failures;  /* per source, failures with no usable id */
	uint64_t window_usec, base_usec, max_usec;
};

/* mqtt = { ... }: also serve through a broker (siot.conf(5)). */
struct mqtt_config {
	char *broker;            /* as written */
	char *host;              /* from broker, without brackets */
	int port;
	bool tls;                /* mqtts:// */
	char *prefix;            /* topics are PREFIX/DEVICE_ID/in and .../out/HEX */
	char *username, *password_file;
	char *ca_file, *tls_cert_file, *tls_key_file;
	unsigned max_sessions;   /* sessions at once, apart from max_connections */
	unsigned request_rate;   /* requests scanned a second, at most */
	unsigned keepalive;      /* seconds */
	int line;
};

/* classic scans every (client, key, allowed command) triple. */
struct classic_candidates {
	struct siot_candidate *candidates;
	const struct client **client;    /* parallel to candidates */
	const struct command **command;  /* parallel to candidates */
	const struct client_key **key;   /* parallel to candidates */
	size_t n;
};

struct config {
	unsigned refs;
	char *path;
	char *dir;               /* the config file's folder, for relative key paths */

	struct siot_params params;
	char device_id[SIOT_MAX_ID + 1];
	char **listen;           /* NULL-terminated; empty with listen = [] */
	struct mqtt_config *mqtt; /* NULL without mqtt = { ... } */
	uint64_t timeout_usec;   /* one exchange */
	uint64_t handshake_timeout_usec; /* a new connection's first request */
	unsigned max_connections, max_connections_per_source, max_requests, output_max;
	int max_connections_line; /* where it is set, 0 when it is not */
	struct backoff_config backoff;
	bool classic_response;

	struct client *clients;
	size_t n_clients;
	struct command *commands;
	size_t n_commands;
	struct gpio_line_decl *lines;
	size_t n_lines;
	const char **all_commands; /* every command's name, NULL-terminated */

	size_t max_keys;         /* K_max: the most keys any client has (at least 1) */

	/* Set by config_resolve. */
	struct siot_key *dummy_key; /* secret, random: unknown ids and unused key slots */
	struct classic_candidates classic;
};

/*
 * Parse and validate path into a new config (one reference) in *out.
 * Problems go to r; returns -EINVAL when the file cannot be read or parsed
 * at all (*out NULL), else 0 with *out set even if problems were reported
 * (config_resolve may still find more; the caller decides by r->errors).
 */
int config_load(const char *path, struct config **out, struct cfg_reader *r);

/*
 * Read every key (wiping every intermediate copy), refuse unsafe key files
 * and shared keys, find every GPIO chip and line, check every exec program,
 * make sure the open-file limit covers config_fd_need (raising the soft
 * limit up to the hard one when it must), and build the dummy key and
 * classic's candidate list.  Problems go to r.
 * Returns 0, or -EINVAL when it reported any.
 */
int config_resolve(struct config *c, struct cfg_reader *r);

/*
 * File descriptors the config may need at once: max_connections, 4 for each
 * script that may run at once (the sum of the exec commands' concurrency),
 * one per GPIO line, and 32 for everything else.
 */
unsigned long config_fd_need(const struct config *c, unsigned *scripts);

/* config_load + config_resolve, problems sorted and handed to report.
 * Returns 0 with *out set, or -EINVAL. */
int config_load_and_resolve(const char *path, struct config **out, cfg_report_fn report, void *userdata);

struct config *config_ref(struct config *c);
/* Drop a reference; the last one wipes the keys and frees everything. */
void config_unref(struct config *c);

/* Lookups; NULL when absent. */
const struct client *config_find_client(const struct config *c, const char *id);
const struct command *config_find_command(const struct config *c, const char *name);

#endif
