/* SPDX-License-Identifier: MIT */
/*
 * For the config fuzzers: the loaders read a path, so each input goes into
 * an in-memory file (memfd) that is read back through /proc/self/fd.
 */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The path of a memory file holding data[0..size); aborts when it cannot. */
static const char *fuzz_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];

	if (fd < 0) {
		fd = memfd_create("fuzz-config", MFD_CLOEXEC);
		/* A memfd is created 0777; siot-ctl refuses a configuration
		 * others can write, which would end every input before the
		 * parser sees it. */
		if (fd < 0 || fchmod(fd, 0600) < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	return path;
}

static void fuzz_quiet(void *userdata, const char *file, int line, const char *msg)
{
	(void)userdata;
	(void)file;
	(void)line;
	(void)msg;
}

#endif
