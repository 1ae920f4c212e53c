/* SPDX-License-Identifier: MIT */
/* What siot-ctl prints about each command: human lines or JSON objects. */
#ifndef SIOT_CTL_OUTPUT_H
#define SIOT_CTL_OUTPUT_H

#include <stdbool.h>

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

#endif
