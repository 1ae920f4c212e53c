/* SPDX-License-Identifier: MIT */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "siot.h"

/* The longest key file: 128 hex digits or 88 base64 characters, CR LF. */
#define KEYFILE_MAX_TEXT 256

static char hint_group[64];
static gid_t service_gid;
static bool service_gid_set;

void keyfile_set_service_group(const char *group, gid_t gid)
{
	snprintf(hint_group, sizeof(hint_group), "%s", group ? group : "");
	service_gid = gid;
	service_gid_set = group != NULL;
}

/* How to make a daemon's key safe and readable by the daemon: root-owned,
 * group the daemon's, 0640.  The group is the one set for a check on
 * behalf of the service user, else the group this process runs as (siot
 * under the packaged unit), else the packaged daemon's group when it
 * exists; with none of them, 0600 for a daemon that runs as root. */
static void daemon_fix(char *out, size_t len, const char *path)
{
	const struct group *g = NULL;
	const char *name = hint_group[0] ? hint_group : NULL;

	if (!name && getegid() != 0 && (g = getgrgid(getegid())))
		name = g->gr_name;
	if (!name && getgrnam(KEYFILE_DAEMON_GROUP))
		name = KEYFILE_DAEMON_GROUP;
	if (name)
		snprintf(out, len, "chgrp %s %s && chmod 640 %s", name, path, path);
	else
		snprintf(out, len, "chmod 600 %s", path);
}

/* A group that may read a daemon's key: the one siotd runs as (its own or a
 * supplementary group), or the packaged daemon's group, so that an
 * administrator checking the configuration as root sees what siotd will. */
static bool daemon_group(gid_t gid)
{
	gid_t groups[256];
	int n = getgroups(256, groups);
	const struct group *g;

	if (gid == getegid() || (service_gid_set && gid == service_gid))
		return true;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	g = getgrnam(KEYFILE_DAEMON_GROUP);
	return g && g->gr_gid == gid;
}

int keyfile_check(const struct stat *st, const char *path, enum keyfile_policy policy, char *err,
		  size_t errlen)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);
	uid_t euid = geteuid();
	char fix[600];

	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -EPERM;
	}
	if (policy == KEYFILE_TRUSTED)
		return 0;
	if (st->st_uid != 0 && st->st_uid != euid) {
		snprintf(err, errlen,
			 "%s: owned by uid %u, not by root or uid %u that reads it; fix: chown %u %s",
			 path, (unsigned)st->st_uid, (unsigned)euid, (unsigned)euid, path);
		return -EPERM;
	}
	if (policy == KEYFILE_CLIENT) {
		if (mode & 077) {
			snprintf(err, errlen,
				 "%s: unprotected key file (mode %04o): group and others must have "
				 "no access; fix: chmod 600 %s",
				 path, mode, path);
			return -EPERM;
		}
		return 0;
	}
	if (mode & 022) {
		daemon_fix(fix, sizeof(fix), path);
		snprintf(err, errlen, "%s: writable by %s (mode %04o); fix: %s", path,
			 (mode & 020) ? "its group" : "others", mode, fix);
		return -EPERM;
	}
	if (mode & 007) {
		daemon_fix(fix, sizeof(fix), path);
		snprintf(err, errlen, "%s: readable by others (mode %04o); fix: %s", path, mode, fix);
		return -EPERM;
	}
	if ((mode & 070) && !daemon_group(st->st_gid)) {
		daemon_fix(fix, sizeof(fix), path);
		snprintf(err, errlen,
			 "%s: readable by group %u, which is not the daemon's group (mode %04o); "
			 "fix: %s",
			 path, (unsigned)st->st_gid, mode, fix);
		return -EPERM;
	}
	return 0;
}

int keyfile_read_text(const char *path, enum keyfile_policy policy, const char *what, char *text,
		      size_t size, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	size_t have = 0;
	int fd, r;

	/* O_NONBLOCK: a FIFO (or a device) put in a key's place must not block
	 * the caller in open(); fstat of the descriptor then refuses it.  A
	 * symlink is followed; its target is what is checked. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot open %s: %s", path, what, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	r = keyfile_check(&st, path, policy, err, errlen);
	if (r < 0) {
		close(fd);
		return r;
	}
	while (have < size) {
		n = read(fd, text + have, size - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			sodium_memzero(text, size);
			return r;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	if (have == size) {
		snprintf(err, errlen, "%s: too large to be a %s", path, what);
		sodium_memzero(text, size);
		return -EINVAL;
	}
	*len = have;
	return 0;
}

int keyfile_load(const char *path, enum keyfile_policy policy, uint8_t *out, size_t *len,
		 char *err, size_t errlen)
{
	char text[KEYFILE_MAX_TEXT + 1];
	size_t have = 0;
	int r = keyfile_read_text(path, policy, "key file", text, sizeof(text), &have, err, errlen);

	if (r < 0)
		return r;
	if (siot_key_decode(text, have, out, len) < 0) {
		snprintf(err, errlen,
			 "%s: not a key: expected one line of hex or base64 for %d..%d bytes "
			 "(make one with: siot-ctl keygen)",
			 path, SIOT_MIN_KEY, SIOT_MAX_KEY);
		r = -EINVAL;
	}
	sodium_memzero(text, sizeof(text));
	return r;
}

int keyfile_load_password(const char *path, enum keyfile_policy policy, char *out, size_t size,
			  char *err, size_t errlen)
{
	size_t have = 0;
	int r = keyfile_read_text(path, policy, "password file", out, size, &have, err, errlen);

	if (r < 0)
		return r;
	while (have && (out[have - 1] == '\n' || out[have - 1] == '\r'))
		have--;
	out[have] = '\0';
	if (!have || memchr(out, '\n', have) || strlen(out) != have) {
		snprintf(err, errlen, "%s: a password file holds one line of text", path);
		sodium_memzero(out, size);
		return -EINVAL;
	}
	return 0;
}

void keyfile_fingerprint(const uint8_t *key, size_t len, char out[KEYFILE_FINGERPRINT_LEN])
{
	uint8_t digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, key, len);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, KEYFILE_FINGERPRINT_LEN - 7, digest, sizeof(digest),
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}
