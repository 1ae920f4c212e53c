/* SPDX-License-Identifier: MIT */
/* siot-ctl's command line: every option, and which subcommand to run. */
#ifndef SIOT_CTL_OPTIONS_H
#define SIOT_CTL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "target.h"

enum subcommand { SUB_SEND, SUB_KEYGEN, SUB_CHECK, SUB_FINGERPRINT, SUB_ENROLL };

struct options {
	enum subcommand sub;
	const char *config_path;   /* -c, or NULL for the default */
	const char *path;          /* the file read: -c's, or target_default_path's */
	char default_path[TARGET_PATH_MAX];
	const char *target_name;   /* -t */
	const char *keygen_out;    /* -o */
	bool json;
	bool verbose;              /* -v: a status line for OK commands too */
	bool quiet;                /* -q: nothing about what went well */
	bool force;                /* enroll --force */
	bool new_key;              /* enroll --new-key */
	const char *enroll_name;   /* enroll's NAME */
	bool port_in_host;         /* -H gave HOST:PORT */
	bool port_flag;            /* -p was given */
	int parallel;              /* --parallel: sends at once to a group */
	struct target flags;       /* what the flags set (the rest unset) */
	const char *const *commands; /* send's command names */
	size_t n_commands;
};

#define OPTIONS_MAX_COMMANDS 64
#define OPTIONS_DEFAULT_PARALLEL 64
#define OPTIONS_MAX_PARALLEL 1024

/* Parse argv.  Returns -1 when the caller should go on, else the exit
 * status (0 after --help or --version, 64 after a usage error, with a
 * message on stderr). */
int options_parse(int argc, char **argv, struct options *o);

#endif
