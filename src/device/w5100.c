/* SPDX-License-Identifier: MIT */
/* The W5100 driver: see w5100.h.  Register addresses and values are the
 * W5100 datasheet's (version 1.2.x, sections 3 and 4). */
#include "w5100.h"

#include <stddef.h>

#define MR 0x0000        /* mode; bit 7 resets, and clears itself */
#define MR_RST 0x80
#define GAR 0x0001       /* gateway, 4 */
#define SUBR 0x0005      /* netmask, 4 */
#define SHAR 0x0009      /* MAC, 6 */
#define SIPR 0x000F      /* IP, 4 */
#define RMSR 0x001A      /* RX memory per socket: 2 bits each, 0x55 = 2 KB */
#define TMSR 0x001B      /* TX memory, the same */

#define S0_MR 0x0400
#define S0_CR 0x0401
#define S0_IR 0x0402
#define S0_SR 0x0403
#define S0_PORT 0x0404
#define S0_TX_FSR 0x0420
#define S0_TX_WR 0x0424
#define S0_RX_RSR 0x0426
#define S0_RX_RD 0x0428

#define MR_TCP 0x01
#define MR_ND 0x20       /* no delayed ACK: the answer is one segment */

#define CR_OPEN 0x01
#define CR_LISTEN 0x02
#define CR_DISCON 0x08
#define CR_CLOSE 0x10
#define CR_SEND 0x20
#define CR_RECV 0x40

#define IR_SEND_OK 0x10
#define IR_TIMEOUT 0x08

/* Socket 0's rings with RMSR = TMSR = 0x55: the first 2 KB of each 8 KB. */
#define TX_BASE 0x4000
#define RX_BASE 0x6000
#define RING_SIZE 2048u
#define RING_MASK (RING_SIZE - 1)

/* How many polls a wait for the chip gets before the driver gives up on
 * it (each poll is a 4-byte SPI frame, a few microseconds at 8 MHz SPI). */
#define POLLS 60000u

/* Deliberately broken builds, for the W5100 model's own test
 * (tests/firmware/test_ethernet.py): 1 forgets the rings' wrap-around, 2
 * does not wait for Sn_CR to clear.  Never in a real image. */
#ifndef W5100_BROKEN
#define W5100_BROKEN 0
#endif

static void frame(uint8_t op, uint16_t addr, uint8_t *data)
{
	w5100_spi_select(true);
	w5100_spi_xfer(op);
	w5100_spi_xfer((uint8_t)(addr >> 8));
	w5100_spi_xfer((uint8_t)addr);
	*data = w5100_spi_xfer(*data);
	w5100_spi_select(false);
}

static void wr(uint16_t addr, uint8_t v)
{
	frame(0xF0, addr, &v);
}

static uint8_t rd(uint16_t addr)
{
	uint8_t v = 0;

	frame(0x0F, addr, &v);
	return v;
}

static void wr16(uint16_t addr, uint16_t v)
{
	wr(addr, (uint8_t)(v >> 8));
	wr((uint16_t)(addr + 1), (uint8_t)v);
}

static uint16_t rd16(uint16_t addr)
{
	return (uint16_t)(rd(addr) << 8 | rd((uint16_t)(addr + 1)));
}

/* Sn_RX_RSR and Sn_TX_FSR change while they are read (the chip receives
 * and sends on its own): read until two readings agree. */
static uint16_t rd16_stable(uint16_t addr)
{
	uint16_t a, b = rd16(addr);

	do {
		a = b;
		b = rd16(addr);
	} while (a != b);
	return a;
}

static void bytes_out(uint16_t addr, const uint8_t *p, uint8_t n)
{
	while (n--)
		wr(addr++, *p++);
}

/* A socket command: Sn_CR clears itself when the chip has taken it, and
 * nothing else may be asked of the socket until then. */
static void command(uint8_t cmd)
{
	wr(S0_CR, cmd);
#if W5100_BROKEN != 2
	for (uint16_t n = POLLS; rd(S0_CR) && n; n--)
		;
#endif
}

int w5100_init(const struct w5100_net *net)
{
	uint16_t n = POLLS;

	wr(MR, MR_RST);
	while ((rd(MR) & MR_RST) && --n)
		;
	if (!n)
		return -1;
	bytes_out(GAR, net->gateway, 4);
	bytes_out(SUBR, net->netmask, 4);
	bytes_out(SHAR, net->mac, 6);
	bytes_out(SIPR, net->ip, 4);
	wr(RMSR, 0x55);
	wr(TMSR, 0x55);
	/* Read back: a missing shield reads 0 (or 0xFF) everywhere. */
	return rd(RMSR) == 0x55 && rd(SIPR + 3) == net->ip[3] ? 0 : -1;
}

uint8_t w5100_status(void)
{
	return rd(S0_SR);
}

int w5100_listen(uint16_t port)
{
	if (w5100_status() != W5100_CLOSED)
		command(CR_CLOSE);
	wr(S0_MR, MR_TCP | MR_ND);
	wr16(S0_PORT, port);
	wr(S0_IR, 0xff); /* what the last connection left */
	command(CR_OPEN);
	if (w5100_status() != W5100_INIT) {
		command(CR_CLOSE);
		return -1;
	}
	command(CR_LISTEN);
	return w5100_status() == W5100_LISTEN ? 0 : -1;
}

uint16_t w5100_available(void)
{
	return rd16_stable(S0_RX_RSR);
}

/* Ring offset off plus i, within the ring. */
static uint16_t at(uint16_t base, uint16_t off, uint16_t i)
{
#if W5100_BROKEN == 1
	return (uint16_t)(base + (off & RING_MASK) + i);
#else
	return (uint16_t)(base + ((off + i) & RING_MASK));
#endif
}

void w5100_read(uint8_t *buf, uint16_t len)
{
	uint16_t ptr = rd16(S0_RX_RD);

	for (uint16_t i = 0; buf && i < len; i++)
		buf[i] = rd(at(RX_BASE, ptr, i));
	wr16(S0_RX_RD, (uint16_t)(ptr + len));
	command(CR_RECV); /* their room is free again */
}

static bool connected(uint8_t sr)
{
	return sr == W5100_ESTABLISHED || sr == W5100_CLOSE_WAIT;
}

int w5100_write(const uint8_t *buf, uint16_t len)
{
	while (len) {
		uint16_t room = 0, ptr, n;
		uint8_t ir = 0;

		/* Never past what the ring has free. */
		for (uint16_t k = POLLS; k && !(room = rd16_stable(S0_TX_FSR)); k--)
			if (!connected(w5100_status()))
				return -1;
		if (!room)
			return -1;
		n = len < room ? len : room;
		ptr = rd16(S0_TX_WR);
		for (uint16_t i = 0; i < n; i++)
			wr(at(TX_BASE, ptr, i), buf[i]);
		wr16(S0_TX_WR, (uint16_t)(ptr + n));
		command(CR_SEND);
		/* SEND_OK, or a timeout (the chip then closes the socket). */
		for (uint16_t k = POLLS; k; k--) {
			ir = rd(S0_IR);
			if ((ir & (IR_SEND_OK | IR_TIMEOUT)) || w5100_status() == W5100_CLOSED)
				break;
		}
		wr(S0_IR, IR_SEND_OK);
		if (!(ir & IR_SEND_OK))
			return -1;
		buf += n;
		len = (uint16_t)(len - n);
	}
	return 0;
}

void w5100_close(uint32_t (*now)(void), uint16_t drain_ms)
{
	uint32_t start = now();

	if (connected(w5100_status()))
		command(CR_DISCON);
	/* FIN_WAIT (or LAST_ACK), then TIME_WAIT, then CLOSED; whatever the
	 * peer still sends is read and dropped. */
	while (w5100_status() != W5100_CLOSED && (uint32_t)(now() - start) < drain_ms) {
		uint16_t n = w5100_available();

		if (n)
			w5100_read(NULL, n);
	}
	command(CR_CLOSE);
}
