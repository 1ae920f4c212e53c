/* SPDX-License-Identifier: MIT */
/*
 * A model of the WIZnet W5100 for avr-bridge: the Arduino Ethernet shield's
 * chip on the simulated part's SPI, its chip select on D10 (PB2), socket 0
 * as a TCP server mapped onto a listening socket on the host.  See
 * w5100-model.c for what it models and what makes it fail.
 */
#ifndef SIOT_W5100_MODEL_H
#define SIOT_W5100_MODEL_H

#include <stdint.h>

#include <sim_avr.h>

/* Wire the model to avr's SPI and PB2; socket 0's connections come from
 * lfd, a listening TCP socket.  ring_start: the value the rings' pointers
 * take at the chip's reset (0 on a real chip at power-up; near the ring's
 * end, wrap-around comes with the first exchange). */
void w5100_model_start(avr_t *avr, int lfd, uint16_t ring_start);

/* The chip's own work, after every slice of instructions: connections,
 * bytes from and to the host, the TCP states' timers. */
void w5100_model_poll(void);

/* The descriptor the bridge may wait on while the simulation is ahead of
 * real time (-1: none). */
int w5100_model_fd(void);

/* The part was reset: so is the shield (its reset line is the board's). */
void w5100_model_reset(void);

/* The bridge's: bytes reached the part (the last in), and the part sent
 * (the first out); for its latency lines. */
void bridge_input_event(void);
void bridge_output_event(void);

#endif
