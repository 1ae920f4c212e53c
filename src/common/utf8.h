/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 as Unicode defines it, decoded by glibc's C.UTF-8 locale (built
 * into glibc since 2.35): overlong forms, surrogates and truncated
 * sequences are refused by glibc; code points past U+10FFFF and the old 5-
 * and 6-byte forms, which glibc still accepts, are refused here.
 */
#ifndef SIOT_UTF8_H
#define SIOT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The character at s[0..n): its length (1..4) with *cp set, or -1 when the
 * bytes there are not UTF-8. */
int utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
/* True when all of s[0..n) is UTF-8. */
bool utf8_valid(const uint8_t *s, size_t n);

/* What keeps s from being a part of an MQTT topic that siot builds (the
 * prefix, a device id): NULL when it may be one, which is 1 to 128 bytes of
 * UTF-8 with no control character (U+0000..U+001F, U+007F..U+009F), no
 * wildcard (+ or #), no $ at its start (the broker's own topics) and no /
 * at either end. */
const char *utf8_topic_problem(const char *s);

#endif
