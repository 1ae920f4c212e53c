/* SPDX-License-Identifier: MIT */
/* lwIP's platform header for the Cortex-M3 network image: newlib's C
 * library, little-endian, an assertion stops the board. */
#ifndef SIOT_LWIP_ARCH_CC_H
#define SIOT_LWIP_ARCH_CC_H

#include <stdint.h>
#include <stdlib.h>

#define LWIP_PLATFORM_DIAG(x) do { } while (0)
#define LWIP_PLATFORM_ASSERT(x) do { abort(); } while (0)
/* Only for lwIP's own choices (initial ports and sequence numbers): siot's
 * challenges come from its DRBG. */
uint32_t siot_lwip_rand(void);
#define LWIP_RAND() siot_lwip_rand()

#endif
