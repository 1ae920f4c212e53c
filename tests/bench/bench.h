/* SPDX-License-Identifier: MIT */
/* What siot-bench.c and floor.c share. */
#pragma once

#include <stdbool.h>

/* The bare exchange's message sizes, in bytes. */
struct sizes {
	unsigned hello, request, response;
};

/* Serve the bare exchange on the listening socket lfd as siotd would
 * (floor.c); returns only on an error (negative errno). */
int floor_server(int lfd, const struct sizes *sz);
