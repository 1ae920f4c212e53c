/* SPDX-License-Identifier: MIT */
/*
 * Reading key files (shared by siotd and siot-ctl): a permission check that
 * refuses unsafe files with a message saying how to fix them, then the
 * decoding rule of siot-protocol(7) (hex or strict base64, 16..64 bytes).
 */
#ifndef SIOT_KEYFILE_H
#define SIOT_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* The group the packaged siotd runs as (systemd/siotd.service). */
#define KEYFILE_DAEMON_GROUP "siot"

enum keyfile_policy {
	/* siotd: owned by root or the daemon's user; never writable by group or
	 * others, never readable by others; group-readable (0640) only by the
	 * daemon's group: one the process is in, or KEYFILE_DAEMON_GROUP. */
	KEYFILE_DAEMON,
	/* siot-ctl, like ssh: owned by the user (or root), no access at all for
	 * group or others (0600 or 0400). */
	KEYFILE_CLIENT,
	/* A systemd credential: systemd made it; trusted as it is. */
	KEYFILE_TRUSTED,
};

/* The service user's group, for a check made on its behalf (siotd
 * --check-config as root): a daemon's key may be readable by it, and fix
 * hints name it ("chgrp GROUP FILE && chmod 640 FILE").  NULL for the
 * default: the group this process runs as, else "siot". */
void keyfile_set_service_group(const char *group, gid_t gid);

/*
 * Check st (of the file at path) against the policy.  Returns 0, or -EPERM
 * with a one-line explanation and fix in err[0..errlen).
 */
int keyfile_check(const struct stat *st, const char *path, enum keyfile_policy policy, char *err,
		  size_t errlen);

/*
 * Open path without blocking (a FIFO or a device in a key's place is
 * refused, not waited on), check the opened file (keyfile_check: a regular
 * file, for every policy; a symlink's target counts), read and decode it into out
 * (SIOT_MAX_KEY bytes, which the caller should have locked, e.g. with
 * sodium_malloc) and set *len.  Every intermediate copy is wiped.  Returns 0
 * or a negative errno with a message in err: -ENOENT and friends from open,
 * -EPERM for an unsafe file, -EINVAL for text that is no key.
 */
int keyfile_load(const char *path, enum keyfile_policy policy, uint8_t *out, size_t *len,
		 char *err, size_t errlen);

/* The open-and-check part of keyfile_load: the file's bytes (fewer than
 * size; `what` names the file in messages, e.g. "key file") into text, and
 * their count into *len.  The caller wipes text. */
int keyfile_read_text(const char *path, enum keyfile_policy policy, const char *what, char *text,
		      size_t size, size_t *len, char *err, size_t errlen);

/* A password file (an MQTT broker's): checked as a key file is, one line of
 * text without its line end into out (NUL-terminated, fewer than size
 * bytes).  Returns 0, or a negative errno with a message in err. */
int keyfile_load_password(const char *path, enum keyfile_policy policy, char *out, size_t size,
			  char *err, size_t errlen);

/* "SHA256:" and the unpadded base64 of the SHA-256 of the key bytes, as
 * ssh prints a key's fingerprint: 7 + 43 characters and a NUL. */
#define KEYFILE_FINGERPRINT_LEN 51
void keyfile_fingerprint(const uint8_t *key, size_t len, char out[KEYFILE_FINGERPRINT_LEN]);

#endif
