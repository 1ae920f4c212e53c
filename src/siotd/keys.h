/* SPDX-License-Identifier: MIT */
/*
 * siotd's keys: key files (relative paths are taken from the config file's
 * folder) and systemd credentials ($CREDENTIALS_DIRECTORY), read under the
 * daemon's permission policy (keyfile.h), held in locked memory and wiped
 * when released.
 */
#ifndef SIOTD_KEYS_H
#define SIOTD_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siot.h"

/* A credential name: no '/', not "." or "..", not empty. */
bool keys_valid_credential_name(const char *name);

/* For --check-config: a credential that cannot be read because systemd did
 * not start us is -ENODATA from keys_read, not a problem. */
void keys_set_check_only(bool on);

/*
 * Read one key: key_file (absolute, or relative to dir) or, when key_file is
 * NULL, the credential named key_credential.  raw must hold SIOT_MAX_KEY
 * bytes of locked memory; *len is set to the key's length.  Returns 0, or a
 * negative errno with a one-line message (saying how to fix it) in err.
 */
int keys_read(const char *dir, const char *key_file, const char *key_credential, uint8_t *raw,
	      size_t *len, char *err, size_t errlen);

/* A key state for raw[0..len) in locked memory; aborts when none can be had. */
struct siot_key *keys_new(enum siot_hash hash, const uint8_t *raw, size_t len);
/* A fresh random key nobody knows: unknown client ids are scanned with it. */
struct siot_key *keys_new_dummy(enum siot_hash hash);
/* Wipe and free (NULL is fine). */
void keys_free(struct siot_key *k);

#endif
