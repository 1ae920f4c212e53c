/* SPDX-License-Identifier: MIT */
/*
 * A polled driver for the SMSC LAN9118 Ethernet controller of the Arm MPS2
 * board (at 0x40200000 on the AN385 image; QEMU's mps2-an385 models it):
 * whole frames in and out through its FIFOs, no interrupts, no DMA.
 */
#ifndef SIOT_LAN9118_H
#define SIOT_LAN9118_H

#include <stddef.h>
#include <stdint.h>

/* Reset the chip, give it its MAC address and turn TX and RX on: 0, or -1
 * when no LAN9118 answers. */
int lan9118_init(const uint8_t mac[6]);

/* The next received frame (without its CRC) into buf: its length, 0 when
 * there is none, and frames longer than cap or received with an error are
 * dropped (0 too). */
size_t lan9118_receive(uint8_t *buf, size_t cap);

/* Queue one frame (14 .. 1514 bytes) for sending: 0, or -1 when the TX
 * FIFO has no room for it now. */
int lan9118_send_begin(size_t len);
/* Its bytes, in order, in pieces of any length; then the end, which
 * pushes the last partial word. */
void lan9118_send_bytes(const uint8_t *p, size_t n);
void lan9118_send_end(void);

#endif
