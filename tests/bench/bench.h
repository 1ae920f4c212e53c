/* SPDX-License-Identifier: MIT */
/* What siot-bench (siot-bench.c) and siot-bench-floor (floor.c) share,
 * from bench-util.c. */
#pragma once

/* The bare exchange's message sizes, in bytes. */
struct sizes {
	unsigned hello, request, response;
};

/* "siot-bench: " and the message on stderr, then exit 1. */
__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);

/* s as a number up to max, or die. */
unsigned parse_uint(const char *s, unsigned max);

/* A socket listening on 127.0.0.1:port, or die; says "ready" on stdout. */
int listen_loopback(unsigned port);
