/* SPDX-License-Identifier: MIT */
/* siot-ctl's client configuration (siot-ctl.conf) on any bytes: targets
 * are read and validated (key files are not opened), never a crash. */
#include <errno.h>

#include "fuzz-file.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct target_group group;
	struct target t;
	const char *path = fuzz_file(data, size);
	int r;

	target_clear(&t);
	/* "garage" may name a target or a group. */
	r = target_load(path, size > 0 && data[0] == '#' ? "garage" : NULL, &t, fuzz_quiet, false,
			NULL, &group);
	if (r != 0 && r != 1 && r != -EINVAL && r != -ESRCH && r != -ENOENT)
		abort();
	if (r == 1 && (group.n == 0 || group.n > TARGET_MAX_GROUP))
		abort();
	target_group_free(&group);
	return 0;
}
