/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "keyfile.h"
#include "send.h"
#include "siot.h"

/* Create the folders missing on the way to path's file, 0700 each, as ssh
 * does for ~/.ssh; existing ones are left as they are.  0 or -1 after a
 * message. */
static int make_parents(const char *path)
{
	char dir[4096];
	size_t n = strlen(path);

	if (n >= sizeof(dir)) {
		fprintf(stderr, "siot-ctl: %s: path too long\n", path);
		return -1;
	}
	memcpy(dir, path, n + 1);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "siot-ctl: cannot create the folder %s: %s\n", dir,
				strerror(errno));
			return -1;
		}
		*p = '/';
	}
	return 0;
}

int keygen_write(const char *path, char fp[KEYFILE_FINGERPRINT_LEN])
{
	uint8_t key[SIOT_KEYGEN_LEN];
	char b64[sodium_base64_ENCODED_LEN(SIOT_KEYGEN_LEN, sodium_base64_VARIANT_ORIGINAL) + 1];
	size_t len;
	int fd, rc = 0;

	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(b64, sizeof(b64) - 1, key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	keyfile_fingerprint(key, sizeof(key), fp);
	sodium_memzero(key, sizeof(key));
	len = strlen(b64);
	b64[len++] = '\n';
	if (!path) {
		/* The key is stdout's; the fingerprint goes beside it, on stderr. */
		rc = fwrite(b64, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
		sodium_memzero(b64, sizeof(b64));
		return rc;
	}
	if (make_parents(path) < 0) {
		sodium_memzero(b64, sizeof(b64));
		return EXIT_CANTCREAT;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fprintf(stderr, "siot-ctl: %s: %s%s\n", path, strerror(errno),
			errno == EEXIST ? " (keygen never overwrites a key)" : "");
		sodium_memzero(b64, sizeof(b64));
		return EXIT_CANTCREAT;
	}
	if (fchmod(fd, 0600) < 0 || write(fd, b64, len) != (ssize_t)len || fsync(fd) < 0) {
		fprintf(stderr, "siot-ctl: writing %s: %s\n", path, strerror(errno));
		rc = EXIT_CANTCREAT;
	}
	close(fd);
	sodium_memzero(b64, sizeof(b64));
	if (rc)
		unlink(path);
	return rc;
}

int cmd_keygen(const char *path)
{
	char fp[KEYFILE_FINGERPRINT_LEN];
	int rc = keygen_write(path, fp);

	if (rc == 0 && path)
		printf("%s %s\n", fp, path);
	else if (rc == 0)
		fprintf(stderr, "%s\n", fp);
	return rc;
}

int cmd_fingerprint(const struct options *o)
{
	char path[4096], err[600], fp[KEYFILE_FINGERPRINT_LEN];
	uint8_t *raw;
	size_t len = 0;
	int r;

	if (!o->flags.key_file[0]) {
		fprintf(stderr, "siot-ctl: fingerprint needs -k KEYFILE\n");
		return EXIT_USAGE;
	}
	if (target_expand_home(o->flags.key_file, path, sizeof(path)) < 0) {
		fprintf(stderr, "siot-ctl: key file path too long\n");
		return EXIT_USAGE;
	}
	raw = sodium_malloc(SIOT_MAX_KEY);
	if (!raw) {
		fprintf(stderr, "siot-ctl: cannot lock memory for the key\n");
		return 5;
	}
	/* Printing a fingerprint uses nothing but the bytes: a device's key
	 * (root:siot 0640) is read as readily as a client's. */
	r = keyfile_load(path, KEYFILE_TRUSTED, raw, &len, err, sizeof(err));
	if (r == 0)
		keyfile_fingerprint(raw, len, fp);
	sodium_free(raw);
	if (r < 0) {
		fprintf(stderr, "siot-ctl: %s\n", err);
		return EXIT_CONFIG;
	}
	printf("%s %s\n", fp, path);
	return 0;
}
