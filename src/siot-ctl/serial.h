/* SPDX-License-Identifier: MIT */
/*
 * siot-ctl's serial ports (-S, target key serial): a microcontroller's UART
 * through a USB serial adapter, with termios and nothing else.
 */
#ifndef SIOT_CTL_SERIAL_H
#define SIOT_CTL_SERIAL_H

#include <stdbool.h>
#include <stddef.h>

#define SERIAL_DEFAULT_BAUD 115200
/* The wake-up length a serial framing gets when none is set. */
#define SERIAL_DEFAULT_WAKEUP 4
#define SERIAL_SPEEDS_TEXT                                                                        \
	"1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 921600 or " \
	"1000000"

/* True for a speed termios has a constant for (those above). */
bool serial_speed_known(unsigned baud);

/*
 * Open path for an exchange: raw 8N1 at baud, CLOCAL, HUPCL cleared (so
 * that closing it does not drop DTR, which resets Arduino-style boards
 * again), exclusive (flock, as other serial programs do), and with anything
 * the board sent before discarded.  Returns the descriptor (non-blocking,
 * close-on-exec), or -errno after writing why into err: -ENOENT and the
 * like from open, -EBUSY when another program has the port, -ENOTTY when it
 * is not a serial port.
 */
int serial_open(const char *path, unsigned baud, char *err, size_t n);

#endif
