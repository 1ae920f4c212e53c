/* SPDX-License-Identifier: MIT */
/* siot-ctl's client configuration (siot-ctl.conf) on any bytes: targets
 * are read and validated (key files are not opened), never a crash. */
#include <errno.h>

#include "fuzz-file.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct target t;
	const char *path = fuzz_file(data, size);
	int r;

	target_clear(&t);
	r = target_load(path, size > 0 && data[0] == '#' ? "garage" : NULL, &t, fuzz_quiet, false, NULL);
	if (r != 0 && r != -EINVAL && r != -ESRCH && r != -ENOENT)
		abort();
	return 0;
}
