/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "send.h"
#include "siot.h"

int cmd_keygen(const char *path)
{
	uint8_t key[SIOT_KEYGEN_LEN];
	char b64[sodium_base64_ENCODED_LEN(SIOT_KEYGEN_LEN, sodium_base64_VARIANT_ORIGINAL) + 1];
	size_t len;
	int fd, rc = 0;

	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(b64, sizeof(b64) - 1, key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	len = strlen(b64);
	b64[len++] = '\n';
	if (!path) {
		rc = fwrite(b64, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
		sodium_memzero(b64, sizeof(b64));
		return rc;
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
