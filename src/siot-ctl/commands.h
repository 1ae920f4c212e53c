/* SPDX-License-Identifier: MIT */
/* siot-ctl's subcommands; each returns siot-ctl's exit status. */
#ifndef SIOT_CTL_COMMANDS_H
#define SIOT_CTL_COMMANDS_H

#include "options.h"

/* A new random key, as base64 on one line, into path (0600, never over an
 * existing file; missing folders made 0700) or to stdout when path is NULL;
 * its fingerprint on stdout (with the path) or, with the key on stdout, on
 * stderr. */
int cmd_keygen(const char *path);

/* The fingerprint of the key in -k's file, and the path. */
int cmd_fingerprint(const struct options *o);

/* Read the client configuration, check every target and its key file. */
int cmd_check(const struct options *o);

/* Pick the target (config, then flags), read its key and send o->commands,
 * printing what became of each. */
int cmd_send(const struct options *o);

#endif
