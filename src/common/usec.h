/* SPDX-License-Identifier: MIT */
/* Durations: CLOCK_MONOTONIC microseconds, as sd-event counts them. */
#ifndef SIOT_USEC_H
#define SIOT_USEC_H

#include <stdint.h>

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL

/* Seconds (finite, >= 0, as validated by the config readers) to usec. */
static inline uint64_t usec_from_seconds(double s)
{
	return (uint64_t)(s * (double)USEC_PER_SEC + 0.5);
}

#endif
