/* SPDX-License-Identifier: MIT */
/*
 * Runs a fuzz target without libFuzzer: once on the empty input (libFuzzer
 * always starts with it), then once on each file in the folders named on
 * the command line (a seed corpus), in name order.  Built into every
 * non-fuzz build (tests/fuzz/meson.build), so a harness that no longer
 * accepts its own seed corpus fails the unit suite, not only the 60 s fuzz
 * step in CI.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	unsigned char buf[65536];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f) || !feof(f)) {
		fprintf(stderr, "%s: unreadable or larger than %zu bytes\n", path, sizeof(buf));
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	printf("ok %s (%zu bytes)\n", path, n);
	return 0;
}

/* Every regular file in dir; the number replayed, or -1. */
static int replay_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), done = 0;

	if (n < 0) {
		perror(dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];

		if (done >= 0 && names[i]->d_type == DT_REG) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			done = replay_file(path) < 0 ? -1 : done + 1;
		}
		free(names[i]);
	}
	free(names);
	return done;
}

int main(int argc, char **argv)
{
	int total = 0;

	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	printf("ok empty input\n");
	for (int i = 1; i < argc; i++) {
		int n = replay_dir(argv[i]);

		if (n < 0)
			return 1;
		total += n;
	}
	if (total == 0) {
		fprintf(stderr, "no seed input found: a corpus that vanished would test nothing\n");
		return 1;
	}
	return 0;
}
