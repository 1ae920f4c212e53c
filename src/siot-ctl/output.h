/* SPDX-License-Identifier: MIT */
/* What siot-ctl prints about each command: human lines or JSON objects. */
#ifndef SIOT_CTL_OUTPUT_H
#define SIOT_CTL_OUTPUT_H

#include "send.h"

/* The output bytes on stdout (control characters escaped on a terminal)
 * and, unless the command was OK, one status line on stderr. */
void output_human(const struct send_outcome *o);

/* One JSON object on one line, on stdout (siot-ctl(1), --json).  Returns 0,
 * or -ENOMEM. */
int output_json(const struct send_outcome *o);

#endif
