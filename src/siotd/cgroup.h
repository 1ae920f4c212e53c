/* SPDX-License-Identifier: MIT */
/*
 * Scripts in cgroups.  Under systemd with Delegate=yes, siotd owns the
 * cgroup v2 subtree of its service: it moves itself into a leaf "daemon",
 * runs each script in a fresh "action-N" beside it, and when the script's
 * leader ends (or its time is up) kills everything left in that cgroup
 * (cgroup.kill), so nothing a script started outlives it: not a process
 * that left the process group (setsid), not one left in the background.
 *
 * Without a delegated, writable cgroup (siotd started by hand, or an older
 * unit) the caller falls back to the script's process group, which a
 * process that calls setsid() escapes; siotd(8) says so.
 */
#ifndef SIOTD_CGROUP_H
#define SIOTD_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#define CGROUPS_MAX_PENDING 64

struct cgroups {
	int dir;           /* siotd's own (delegated) cgroup directory, or -1 */
	unsigned next;     /* the next action-N */
	/* Killed cgroups not empty yet at once: removed at the next chance. */
	char pending[CGROUPS_MAX_PENDING][24];
	unsigned n_pending;
	sd_event *event;
	sd_event_source *retry; /* removes pending cgroups once they empty */
	uint64_t retry_usec;
};

/* Find and take over the delegated cgroup; cg->dir stays -1 (and 0 is
 * returned) when there is none to use.  Returns a negative errno only when
 * a delegated cgroup was found but could not be set up. */
int cgroups_init(struct cgroups *cg, sd_event *event);
void cgroups_finish(struct cgroups *cg);
static inline bool cgroups_enabled(const struct cgroups *cg)
{
	return cg->dir >= 0;
}

/* A new empty cgroup for one script: its name in name[0..len) and an fd of
 * its cgroup.procs, which the child writes "0" to before it execs.  Returns
 * the fd, or a negative errno. */
int cgroups_new(struct cgroups *cg, char *name, size_t len);

/* Kill everything in cgroup name (cgroup.kill) and remove it, now or, if
 * its processes are still going, from a timer that retries (20 ms, doubling
 * up to 1 s) until it is empty.
 * Returns 0, or a negative errno when it could not be killed. */
int cgroups_kill(struct cgroups *cg, const char *name);
/* Remove cgroup name if it is empty: 0, -EBUSY while processes remain. */
int cgroups_remove(struct cgroups *cg, const char *name);

#endif
