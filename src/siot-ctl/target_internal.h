/* SPDX-License-Identifier: MIT */
/* What target.c (one target's settings) gives target_load.c (the file). */
#ifndef SIOT_CTL_TARGET_INTERNAL_H
#define SIOT_CTL_TARGET_INTERNAL_H

#include "cfg.h"
#include "target.h"

/* One target's settings from its group in the file into t, each problem
 * reported at its line (a missing name is the caller's to report). */
void target_read(struct cfg_reader *r, const config_setting_t *g, struct target *t);

/* check: t's key file must be readable, safe and a key. */
void target_check_key(struct cfg_reader *r, const config_setting_t *g, const struct target *t);

/* The file must be the user's (or root's) and writable by no one else:
 * 0, -EPERM (reported) or -errno. */
int target_check_file(struct cfg_reader *r, const char *path);

/* Every target's name and address, as written, into names. */
void target_list_names(const config_setting_t *list, int n, struct target_names *names);

#endif
