/* SPDX-License-Identifier: MIT */
/*
 * The Cortex-M3 network image's TCP: lwIP's raw API (NO_SYS) on the
 * LAN9118 (lan9118.c), with the provisioned static address, and the device
 * core (its stream mode) served on the provisioned port, one connection at
 * a time.  A connection that comes while one is being served is refused
 * with a reset; one that comes while the last is draining is served.
 */
#ifndef SIOT_MPS2_NET_H
#define SIOT_MPS2_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provision.h"
#include "siot_device.h"

/* Bring the interface up and listen: 0, or -1 (no LAN9118, no memory). */
int net_start(const struct prov_network *pn, struct siot_device *dev, uint32_t (*now)(void));

/* One turn of the main loop: a received frame into lwIP, its timers, the
 * drain's deadline, then the core's time (siot_device_tick).  True when a
 * frame came (another may be waiting). */
bool net_poll(void);

/* The board's send() and close() for the core. */
void net_send(const uint8_t *buf, size_t len);
void net_close(void);

#endif
