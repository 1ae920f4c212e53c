/* SPDX-License-Identifier: MIT */
/* siotd's config loader (parse and validate, config_load) on any bytes:
 * every problem must be reported, never crash or leak. */
#include "config.h"
#include "fuzz-file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_reader r;
	struct config *c = NULL;
	const char *path = fuzz_file(data, size);

	cfg_reader_init(&r, path);
	if (config_load(path, &c, &r) == 0 && !c)
		abort(); /* a loaded file gives a config */
	cfg_reader_flush(&r, fuzz_quiet, NULL);
	config_unref(c);
	return 0;
}
