/* SPDX-License-Identifier: MIT */
/* siot-ctl's subcommands; each returns siot-ctl's exit status. */
#ifndef SIOT_CTL_COMMANDS_H
#define SIOT_CTL_COMMANDS_H

#include "keyfile.h"
#include "options.h"

/* A new random key, as base64 on one line, into path (0600, never over an
 * existing file; missing folders made 0700) or to stdout when path is NULL;
 * its fingerprint on stdout (with the path) or, with the key on stdout, on
 * stderr. */
int cmd_keygen(const char *path);

/* keygen's work, quietly: a new key into path (or stdout when NULL), its
 * fingerprint into fp.  Returns 0 or an exit status after a message. */
int keygen_write(const char *path, char fp[KEYFILE_FINGERPRINT_LEN]);

/* siot-ctl enroll NAME: a key, a target block appended to the client
 * config, and the device-side steps printed. */
int cmd_enroll(const struct options *o);

/* The fingerprint of the key in -k's file, and the path. */
int cmd_fingerprint(const struct options *o);

/* Read the client configuration, check every target and its key file. */
int cmd_check(const struct options *o);

/* Pick the target (config, then flags), read its key and send o->commands,
 * printing what became of each. */
int cmd_send(const struct options *o);

/* siot-ctl -t GROUP send: every member's target checked and its key read
 * before anything is sent, then at most o->parallel sends at a time, one
 * line (or --json objects) per device as each finishes.  Returns the worst
 * status (group_worse). */
int cmd_send_group(const struct options *o, const struct target_group *g);

/* Whether exit status a is worse than b for a group: 76 > 69 > 75 > 5 > 4 >
 * 3 > 2 > 1 > 0, and anything else (a worker that died) worse than all. */
bool group_worse(int a, int b);

#endif
