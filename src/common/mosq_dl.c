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

/* Every function's name and where its address goes. */
#define MOSQ_DL_ENTRY(f) { #f, (void **)&mosq_dl_##f },
static const struct {
	const char *name;
	void **ptr;
} symbols[] = { MOSQ_DL_FUNCTIONS(MOSQ_DL_ENTRY) };
#undef MOSQ_DL_ENTRY

int mosq_dl_load(char *err, size_t errlen)
{
	static void *lib;

	if (lib)
		return 0;
	lib = dlopen(MOSQ_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(err, errlen, "MQTT needs libmosquitto (Debian: apt install libmosquitto1): %s",
			 dlerror());
		return -1;
	}
	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		*symbols[i].ptr = dlsym(lib, symbols[i].name);
		if (!*symbols[i].ptr) {
			snprintf(err, errlen, "%s has no %s: libmosquitto 2.0 or later is needed",
				 MOSQ_DL_SONAME, symbols[i].name);
			dlclose(lib);
			lib = NULL;
			return -1;
		}
	}
	return 0;
}
