/* SPDX-License-Identifier: MIT */
#define MOSQ_DL_IMPLEMENTATION
#include "mosq_dl.h"

#include <dlfcn.h>
#include <stdio.h>

/* The soname Debian's libmosquitto1 (2.0) provides. */
#define MOSQ_DL_SONAME "libmosquitto.so.1"

#define MOSQ_DL_DEFINE(f) __typeof__(f) *mosq_dl_##f;
MOSQ_DL_FUNCTIONS(MOSQ_DL_DEFINE)
#undef MOSQ_DL_DEFINE

int mosq_dl_load(char *err, size_t errlen)
{
	static void *lib;
	const char *missing = NULL;

	if (lib)
		return 0;
	lib = dlopen(MOSQ_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(err, errlen, "MQTT needs libmosquitto (Debian: apt install libmosquitto1): %s",
			 dlerror());
		return -1;
	}
#define MOSQ_DL_RESOLVE(f)                                                                      \
	if (!missing && !(*(void **)&mosq_dl_##f = dlsym(lib, #f)))                             \
		missing = #f;
	MOSQ_DL_FUNCTIONS(MOSQ_DL_RESOLVE)
#undef MOSQ_DL_RESOLVE
	if (missing) {
		snprintf(err, errlen, "%s has no %s: libmosquitto 2.0 or later is needed",
			 MOSQ_DL_SONAME, missing);
		dlclose(lib);
		lib = NULL;
		return -1;
	}
	return 0;
}
