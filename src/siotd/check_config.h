/* SPDX-License-Identifier: MIT */
/* siotd --check-config [--user USER]. */
#ifndef SIOTD_CHECK_CONFIG_H
#define SIOTD_CHECK_CONFIG_H

/* The user the packaged siotd.service runs as. */
#define CHECK_SERVICE_USER "siot"

/* Load and resolve the configuration at path and print every problem as
 * file:line: message; run as root, also check that the service user (user,
 * or CHECK_SERVICE_USER) can read every key file.  Returns the exit status:
 * 0 when there is no problem, else 1. */
int check_config(const char *path, const char *user);

#endif
