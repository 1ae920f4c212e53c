/* SPDX-License-Identifier: MIT */
/*
 * Preparing a send, for a single device (cmd_send.c) and for every member
 * of a group (group.c): a target's options, its key, its broker password,
 * and the command names its protocol accepts.  Each function prints its
 * own message and returns siot-ctl's exit status.
 */
#ifndef SIOT_CTL_PREPARE_H
#define SIOT_CTL_PREPARE_H

#include "options.h"
#include "send.h"
#include "target.h"

/* The protocol parameters, ids and address of t into so (not the key);
 * so holds everything it points to but t's strings.  0 or 64 after a
 * message. */
int prepare_options(const struct target *t, struct send_options *so);

/* Classic refuses one-character names: 0, or 64 after a message. */
int prepare_check_names(const struct send_options *so, const struct options *o);

/* t's key file into a key state in locked memory; NULL after a message,
 * with the exit status in *code. */
struct siot_key *prepare_read_key(const struct target *t, enum siot_hash hash, int *code);
void prepare_free_key(struct siot_key *key);

/* With mqtt_password_file: the password (checked as a key file is) into
 * locked memory at *out, and so->mqtt_password; 0, or an exit status after a
 * message.  sodium_free(*out) when done. */
#define PREPARE_MAX_PASSWORD 256
int prepare_mqtt_password(const struct target *t, struct send_options *so, char **out);

/* After a send: for each command t marks as a value (values, --value) that
 * verified OK without output, its result byte as its output ("1\n"), as
 * siotd's GPIO get gives it (siot-ctl(1), --value). */
void prepare_values(const struct target *t, struct send_outcome *out, size_t n);

#endif
