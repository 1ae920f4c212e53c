/* SPDX-License-Identifier: MIT */
/* What siot-ctl prints about each command: human lines or JSON objects. */
#ifndef SIOT_CTL_OUTPUT_H
#define SIOT_CTL_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "send.h"

/* The output bytes on stdout (control characters escaped on a terminal;
 * introduced by the command's name when named) and, unless the command was
 * OK or verbose is set, one status line on stderr: "NAME: exit N" for
 * FAILED, the reason for BUSY and REJECTED. */
void output_human(const struct send_outcome *o, bool named, bool verbose);

/* The sentence for a verified BUSY or REJECTED answer's reason, or NULL. */
const char *output_reason(const struct send_outcome *o);

/* One JSON object on one line, on stdout (siot-ctl(1), --json).  Returns 0,
 * or -ENOMEM. */
int output_json(const struct send_outcome *o);

/* What became of one member of a group (siot-ctl(1), "Groups"), into f
 * (its text goes to stdout in the group's order): with json, output_json's
 * objects with a "target" field first and "elapsed_ms" (the milliseconds
 * from the fan-out's start to this member's end) last; else one line
 * "TARGET: STATUS", then the device's output indented by two spaces
 * (named: each command's output under a line "  COMMAND:"). */
void output_group(FILE *f, const char *target, const struct send_outcome *o, size_t n,
		  int code, bool json, bool named, long long elapsed_ms);

#endif
