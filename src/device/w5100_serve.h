/* SPDX-License-Identifier: MIT */
/*
 * The device core (siot_device.h, its stream mode) served over a W5100's
 * socket 0: one TCP connection at a time, on the board's main loop.  The
 * register-level sketch and the bare AVR image share it.
 */
#ifndef SIOT_W5100_SERVE_H
#define SIOT_W5100_SERVE_H

#include "provision.h"
#include "siot_device.h"
#include "w5100.h"

#ifdef __cplusplus
extern "C" {
#endif

struct w5100_server {
	struct siot_device *dev;
	uint32_t (*now)(void);  /* the board's millisecond clock */
	uint16_t port;
	bool peer;              /* a connection the core was told of */
};

/* The chip given the network block's addresses, and the server its
 * core, clock and port: 0, or -1 when no W5100 answers. */
int w5100_serve_start(struct w5100_server *s, const struct prov_network *net,
		      struct siot_device *dev, uint32_t (*now)(void));

/* One turn of the main loop: (re)open and listen when the socket is
 * closed, report a new connection and its bytes (16 at a time) to the
 * core, a FIN or a reset too; otherwise let time pass (siot_device_tick). */
void w5100_serve(struct w5100_server *s);

/* The board's send() and close() (struct siot_dev_board) on the server. */
void w5100_serve_send(struct w5100_server *s, const uint8_t *buf, size_t len);
void w5100_serve_close(struct w5100_server *s);

#ifdef __cplusplus
}
#endif

#endif
