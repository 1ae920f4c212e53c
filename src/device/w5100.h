/* SPDX-License-Identifier: MIT */
/*
 * A register-level driver for the WIZnet W5100 (the Arduino Ethernet
 * shield's chip) on SPI: the common registers and socket 0 as one TCP
 * server.  The W5100 does TCP itself; the driver sets its addresses, opens
 * and listens, moves bytes through socket 0's RX and TX rings (2 KB each,
 * as RMSR/TMSR give them) and closes.
 *
 * The board gives the SPI: w5100_spi_select (the chip select, D10 on the
 * shield, low while true) and w5100_spi_xfer (one byte each way).  Every
 * access is one 4-byte frame, the datasheet's: 0xF0 (write) or 0x0F (read),
 * the address high and low, the data.
 */
#ifndef SIOT_W5100_H
#define SIOT_W5100_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Socket 0's status (Sn_SR), as the datasheet names them. */
enum w5100_status {
	W5100_CLOSED = 0x00,
	W5100_INIT = 0x13,
	W5100_LISTEN = 0x14,
	W5100_SYNSENT = 0x15,
	W5100_SYNRECV = 0x16,
	W5100_ESTABLISHED = 0x17,
	W5100_FIN_WAIT = 0x18,
	W5100_CLOSING = 0x1A,
	W5100_TIME_WAIT = 0x1B,
	W5100_CLOSE_WAIT = 0x1C,
	W5100_LAST_ACK = 0x1D,
};

struct w5100_net {
	uint8_t mac[6];
	uint8_t ip[4], netmask[4], gateway[4]; /* network order */
};

/* The board's SPI. */
void w5100_spi_select(bool on);
uint8_t w5100_spi_xfer(uint8_t out);

/* Reset the chip and give it its addresses, and socket 0 2 KB of each
 * ring.  0, or -1 when the chip does not answer (no shield). */
int w5100_init(const struct w5100_net *net);

/* Socket 0's status now: enum w5100_status. */
uint8_t w5100_status(void);

/* Socket 0 as a TCP server on port (closing whatever it was): 0, or -1
 * when the chip would not open it. */
int w5100_listen(uint16_t port);

/* Bytes received and not yet read. */
uint16_t w5100_available(void);

/* len received bytes (len <= w5100_available()) into buf, or dropped when
 * buf is NULL. */
void w5100_read(uint8_t *buf, uint16_t len);

/* Send len bytes, as the TX ring frees up: 0, or -1 when the connection
 * went away first. */
int w5100_write(const uint8_t *buf, uint16_t len);

/* End the connection as siot-protocol(7) asks: send FIN, read and drop
 * what still comes for up to drain_ms by now() (milliseconds), then close
 * the socket. */
void w5100_close(uint32_t (*now)(void), uint16_t drain_ms);

#ifdef __cplusplus
}
#endif

#endif
