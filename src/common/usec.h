/* SPDX-License-Identifier: MIT */
/* Durations: CLOCK_MONOTONIC microseconds, as sd-event counts them. */
#ifndef SIOT_USEC_H
#define SIOT_USEC_H

#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL

/* Timer accuracies handed to sd-event, whose default (250 ms) would let a
 * 100 ms pulse last 350 ms.  Actions (pulses, script time limits) fire to
 * the microsecond; network deadlines may be coalesced within a millisecond. */
#define ACCURACY_ACTION_USEC 1ULL
#define ACCURACY_NETWORK_USEC USEC_PER_MSEC

/* CLOCK_MONOTONIC now, in usec.  Action timers count from this rather than
 * from sd-event's time of the loop iteration, which is earlier by the work
 * done since: a pulse or a time limit is never shorter than configured. */
static inline uint64_t monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* CLOCK_MONOTONIC now, in milliseconds: siot-ctl's deadlines. */
static inline int64_t monotonic_msec(void)
{
	return (int64_t)(monotonic_usec() / USEC_PER_MSEC);
}

/* Seconds (finite, >= 0, as validated by the config readers) to usec. */
static inline uint64_t usec_from_seconds(double s)
{
	return (uint64_t)(s * (double)USEC_PER_SEC + 0.5);
}

#endif
