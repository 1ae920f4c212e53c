/* SPDX-License-Identifier: MIT */
/*
 * Runs a fuzz target without libFuzzer: once on the empty input (libFuzzer
 * always starts with it), then once on each file named on the command line.
 * Built into every test build, so a harness that no longer accepts its own
 * seed corpus fails the unit suite, not only the 60 s fuzz step in CI.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const char *path)
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

int main(int argc, char **argv)
{
	int i;

	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	printf("ok empty input\n");
	for (i = 1; i < argc; i++)
		if (replay(argv[i]) < 0)
			return 1;
	return argc > 1 ? 0 : 1;
}
