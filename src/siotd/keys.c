/* SPDX-License-Identifier: MIT */
#include "keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyfile.h"

static bool check_only;

void keys_set_check_only(bool on)
{
	check_only = on;
}

bool keys_valid_credential_name(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int keys_read(const char *dir, const char *key_file, const char *key_credential, uint8_t *raw,
	      size_t *len, char *err, size_t errlen)
{
	enum keyfile_policy policy = KEYFILE_DAEMON;
	char *path;
	int r;

	if (key_file && key_file[0] == '/') {
		r = asprintf(&path, "%s", key_file);
	} else if (key_file) {
		r = asprintf(&path, "%s/%s", dir, key_file);
	} else {
		const char *creds = getenv("CREDENTIALS_DIRECTORY");

		if (!creds && check_only) {
			snprintf(err, errlen, "key_credential \"%s\": not checked outside systemd",
				 key_credential);
			return -ENODATA;
		}
		if (!creds) {
			snprintf(err, errlen,
				 "key_credential \"%s\": $CREDENTIALS_DIRECTORY is not set "
				 "(pass it with LoadCredential=%s:/path in the unit)",
				 key_credential, key_credential);
			return -ENOENT;
		}
		policy = KEYFILE_TRUSTED; /* systemd made it */
		r = asprintf(&path, "%s/%s", creds, key_credential);
	}
	if (r < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = keyfile_load(path, policy, raw, len, err, errlen);
	free(path);
	return r;
}

struct siot_key *keys_new(enum siot_hash hash, const uint8_t *raw, size_t len)
{
	struct siot_key *k = sodium_malloc(sizeof(*k));

	if (!k)
		abort(); /* no locked memory: nothing sensible to do */
	siot_key_init(k, hash, raw, len);
	return k;
}

struct siot_key *keys_new_dummy(enum siot_hash hash)
{
	uint8_t raw[SIOT_KEYGEN_LEN];
	struct siot_key *k;

	randombytes_buf(raw, sizeof(raw));
	k = keys_new(hash, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	return k;
}

void keys_free(struct siot_key *k)
{
	if (!k)
		return;
	siot_key_wipe(k);
	sodium_free(k);
}
