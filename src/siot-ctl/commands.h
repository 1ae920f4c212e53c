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

/* cmd_send's steps, shared with the fan-out to a group (group.c). */
struct send_options;
/* The protocol parameters and ids of t into so (not the key); 0 or 64 after
 * a message. */
int send_target_options(const struct target *t, struct send_options *so);
/* Classic refuses one-character names: 0, or 64 after a message. */
int send_check_names(const struct send_options *so, const struct options *o);
/* t's key file into a key state in locked memory; NULL after a message,
 * with the exit status in *code. */
struct siot_key *send_read_key(const struct target *t, enum siot_hash hash, int *code);
void send_free_key(struct siot_key *key);
/* With mqtt_password_file: the password (checked as a key file is) into
 * locked memory at *out, and so->mqtt_password; 0, or an exit status after a
 * message.  sodium_free(*out) when done. */
#define SEND_MAX_PASSWORD 256
int send_mqtt_password(const struct target *t, struct send_options *so, char **out);

/* siot-ctl -t GROUP send: every member's target checked and its key read
 * before anything is sent, then at most o->parallel sends at a time, one
 * line (or --json objects) per device as each finishes.  Returns the worst
 * status (group_worse). */
int cmd_send_group(const struct options *o, const char *path, const struct target_group *g);

/* Whether exit status a is worse than b for a group: 76 > 69 > 75 > 5 > 4 >
 * 3 > 2 > 1 > 0, and anything else (a worker that died) worse than all. */
bool group_worse(int a, int b);

#endif
