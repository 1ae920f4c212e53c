/* SPDX-License-Identifier: MIT */
/* Durations: CLOCK_MONOTONIC microseconds, as sd-event counts them. */
#ifndef SIOT_USEC_H
#define SIOT_USEC_H

#include <stdint.h>

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL

/* Timer accuracies handed to sd-event, whose default (250 ms) would let a
 * 100 ms pulse last 350 ms.  Actions (pulses, script time limits) fire to
 * the microsecond; network deadlines may be coalesced within a millisecond. */
#define ACCURACY_ACTION_USEC 1ULL
#define ACCURACY_NETWORK_USEC USEC_PER_MSEC

/* Seconds (finite, >= 0, as validated by the config readers) to usec. */
static inline uint64_t usec_from_seconds(double s)
{
	return (uint64_t)(s * (double)USEC_PER_SEC + 0.5);
}

#endif
