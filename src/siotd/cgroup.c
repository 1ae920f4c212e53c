/* SPDX-License-Identifier: MIT */
#include "cgroup.h"
#include "usec.h"

#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where cgroup v2 is mounted: /sys/fs/cgroup on a unified host, but
 * /sys/fs/cgroup/unified on a hybrid one (v1 controllers beside v2). */
static int cgroup2_mount(char *out, size_t len)
{
	struct mntent ent;
	char buf[4096];
	FILE *f = setmntent("/proc/self/mounts", "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (getmntent_r(f, &ent, buf, sizeof(buf))) {
		if (strcmp(ent.mnt_type, "cgroup2") == 0) {
			snprintf(out, len, "%s", ent.mnt_dir);
			r = 0;
			break;
		}
	}
	endmntent(f);
	return r;
}

/* This process's cgroup v2 path ("/system.slice/siotd.service"). */
static int own_path(char *out, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "%s", line + 3);
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

static int write_at(int dir, const char *file, const char *text)
{
	int fd = openat(dir, file, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int r = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	if (n < 0)
		r = -errno;
	close(fd);
	return r;
}

int cgroups_remove(struct cgroups *cg, const char *name)
{
	if (unlinkat(cg->dir, name, AT_REMOVEDIR) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

/* Retry removing the cgroups whose processes had not all gone yet. */
static void remove_pending(struct cgroups *cg)
{
	for (unsigned i = 0; i < cg->n_pending;) {
		if (cgroups_remove(cg, cg->pending[i]) == -EBUSY) {
			i++;
			continue;
		}
		memcpy(cg->pending[i], cg->pending[--cg->n_pending], sizeof(cg->pending[0]));
	}
}

#define RETRY_FIRST_USEC (20 * USEC_PER_SEC / 1000)
#define RETRY_MAX_USEC USEC_PER_SEC

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct cgroups *cg = userdata;

	(void)usec;
	remove_pending(cg);
	if (cg->n_pending == 0)
		return sd_event_source_set_enabled(s, SD_EVENT_OFF);
	if (cg->retry_usec < RETRY_MAX_USEC)
		cg->retry_usec *= 2;
	sd_event_source_set_time_relative(s, cg->retry_usec);
	return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* Try again soon to remove the cgroups still pending. */
static void schedule_retry(struct cgroups *cg)
{
	if (!cg->event)
		return;
	if (cg->retry && sd_event_source_get_enabled(cg->retry, NULL) > 0)
		return; /* already on its way */
	cg->retry_usec = RETRY_FIRST_USEC;
	if (!cg->retry) {
		if (sd_event_add_time_relative(cg->event, &cg->retry, CLOCK_MONOTONIC,
					       cg->retry_usec, ACCURACY_NETWORK_USEC, on_retry,
					       cg) < 0)
			cg->retry = NULL; /* the next cgroups_new retries instead */
		return;
	}
	sd_event_source_set_time_relative(cg->retry, cg->retry_usec);
	sd_event_source_set_enabled(cg->retry, SD_EVENT_ONESHOT);
}

int cgroups_init(struct cgroups *cg, sd_event *event)
{
	char root[4096], path[4096], dirpath[8200];
	int dir, r;

	*cg = (struct cgroups){ .dir = -1, .event = event };
	if (!getenv("INVOCATION_ID") || cgroup2_mount(root, sizeof(root)) < 0 ||
	    own_path(path, sizeof(path)) < 0)
		return 0; /* not started by systemd, or no cgroup v2 */
	snprintf(dirpath, sizeof(dirpath), "%s%s", root, path);
	dir = open(dirpath, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dir < 0)
		return 0;
	/* Delegated to us: we may create cgroups and move processes here. */
	if (faccessat(dir, "cgroup.procs", W_OK, AT_EACCESS) < 0 ||
	    faccessat(dir, ".", W_OK, AT_EACCESS) < 0) {
		close(dir);
		return 0;
	}
	/* No processes in inner cgroups: siotd moves into a leaf of its own. */
	r = mkdirat(dir, "daemon", 0755) < 0 && errno != EEXIST ? -errno : 0;
	if (r == 0)
		r = write_at(dir, "daemon/cgroup.procs", "0");
	if (r < 0) {
		close(dir);
		return r;
	}
	cg->dir = dir;
	return 0;
}

void cgroups_finish(struct cgroups *cg)
{
	if (cg->dir >= 0) {
		remove_pending(cg);
		close(cg->dir);
	}
	cg->retry = sd_event_source_disable_unref(cg->retry);
	cg->dir = -1;
}

int cgroups_new(struct cgroups *cg, char *name, size_t len)
{
	char procs[96];
	int fd;

	remove_pending(cg);
	snprintf(name, len, "action-%u", cg->next++);
	if (mkdirat(cg->dir, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", name);
	fd = openat(cg->dir, procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		unlinkat(cg->dir, name, AT_REMOVEDIR);
		return r;
	}
	return fd;
}

int cgroups_kill(struct cgroups *cg, const char *name)
{
	char file[96];
	int r;

	snprintf(file, sizeof(file), "%s/cgroup.kill", name);
	r = write_at(cg->dir, file, "1");
	if (cgroups_remove(cg, name) == -EBUSY && cg->n_pending < CGROUPS_MAX_PENDING) {
		snprintf(cg->pending[cg->n_pending++], sizeof(cg->pending[0]), "%s", name);
		schedule_retry(cg);
	}
	return r;
}

