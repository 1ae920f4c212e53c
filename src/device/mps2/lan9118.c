/* SPDX-License-Identifier: MIT */
/* The LAN9118 driver: see lan9118.h.  Register offsets and bits are the
 * LAN9118 datasheet's (SMSC, rev. 1.5, section 5). */
#include "lan9118.h"

#define BASE 0x40200000u
#define REG(off) (*(volatile uint32_t *)(BASE + (off)))

#define RX_DATA_FIFO 0x00
#define TX_DATA_FIFO 0x20
#define RX_STATUS_FIFO 0x40
#define TX_STATUS_FIFO 0x48
#define BYTE_TEST 0x64      /* reads 0x87654321 */
#define RX_CFG 0x6C
#define TX_CFG 0x70         /* bit 1: TX_ON */
#define HW_CFG 0x74         /* bit 0: soft reset, clears itself */
#define RX_DP_CTRL 0x78     /* bit 31: skip the rest of this frame */
#define RX_FIFO_INF 0x7C    /* 23:16 RX status FIFO entries */
#define TX_FIFO_INF 0x80    /* 23:16 TX status FIFO entries, 15:0 TX data FIFO free bytes */
#define MAC_CSR_CMD 0xA4    /* bit 31 busy, bit 30 read; 7:0 the MAC register */
#define MAC_CSR_DATA 0xA8

#define MAC_CR 1
#define MAC_ADDRH 2
#define MAC_ADDRL 3
#define MAC_CR_TXEN 0x8u
#define MAC_CR_RXEN 0x4u

#define RX_STS_LEN(s) (((s) >> 16) & 0x3FFFu)
#define RX_STS_ERROR 0x8000u

/* How long a wait for the chip may take, in polls. */
#define POLLS 100000u

static int mac_write(uint8_t reg, uint32_t v)
{
	uint32_t n = POLLS;

	REG(MAC_CSR_DATA) = v;
	REG(MAC_CSR_CMD) = 0x80000000u | reg;
	while ((REG(MAC_CSR_CMD) & 0x80000000u) && --n)
		;
	return n ? 0 : -1;
}

int lan9118_init(const uint8_t mac[6])
{
	uint32_t n = POLLS;

	if (REG(BYTE_TEST) != 0x87654321u)
		return -1;
	REG(HW_CFG) = 1u;
	while ((REG(HW_CFG) & 1u) && --n)
		;
	if (!n)
		return -1;
	REG(RX_CFG) = 0; /* no offset, no end padding */
	REG(TX_CFG) = 2u;
	/* Exact filtering on the address, broadcasts (ARP) too. */
	if (mac_write(MAC_ADDRL, (uint32_t)mac[0] | (uint32_t)mac[1] << 8 |
				       (uint32_t)mac[2] << 16 | (uint32_t)mac[3] << 24) < 0 ||
	    mac_write(MAC_ADDRH, (uint32_t)mac[4] | (uint32_t)mac[5] << 8) < 0 ||
	    mac_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN) < 0)
		return -1;
	return 0;
}

size_t lan9118_receive(uint8_t *buf, size_t cap)
{
	uint32_t sts, len, words;

	/* TX status entries too: read so that the FIFO never fills. */
	while (REG(TX_FIFO_INF) & 0x00FF0000u)
		(void)REG(TX_STATUS_FIFO);
	if (!(REG(RX_FIFO_INF) & 0x00FF0000u))
		return 0;
	sts = REG(RX_STATUS_FIFO);
	len = RX_STS_LEN(sts);
	words = (len + 3) / 4;
	if ((sts & RX_STS_ERROR) || len < 4 + 14 || len - 4 > cap) {
		while (words--) /* the frame's words, read and dropped */
			(void)REG(RX_DATA_FIFO);
		return 0;
	}
	for (uint32_t i = 0; i < words; i++) {
		uint32_t w = REG(RX_DATA_FIFO);

		for (uint32_t b = 0; b < 4; b++) {
			uint32_t at = i * 4 + b;

			if (at < len - 4) /* not the CRC */
				buf[at] = (uint8_t)(w >> (8 * b));
		}
	}
	return len - 4;
}

/* The frame being written: its bytes not yet a whole word. */
static uint32_t pending;
static uint8_t npending;

int lan9118_send_begin(size_t len)
{
	if (len < 14 || len > 1514 || (REG(TX_FIFO_INF) & 0xFFFFu) < len + 8 + 4)
		return -1;
	/* Command A: first and last segment, the whole frame; command B:
	 * its length (and the same as its tag). */
	REG(TX_DATA_FIFO) = (1u << 13) | (1u << 12) | (uint32_t)len;
	REG(TX_DATA_FIFO) = (uint32_t)len << 16 | (uint32_t)len;
	pending = 0;
	npending = 0;
	return 0;
}

void lan9118_send_bytes(const uint8_t *p, size_t n)
{
	while (n--) {
		pending |= (uint32_t)*p++ << (8 * npending);
		if (++npending == 4) {
			REG(TX_DATA_FIFO) = pending;
			pending = 0;
			npending = 0;
		}
	}
}

/* The last, partial word of a frame. */
void lan9118_send_end(void)
{
	if (npending)
		REG(TX_DATA_FIFO) = pending;
	pending = 0;
	npending = 0;
}
