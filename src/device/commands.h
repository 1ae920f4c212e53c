/* SPDX-License-Identifier: MIT */
/*
 * The firmware's command table, shared by its boards (commands.c holds it;
 * it is C so that a C++ sketch can use it too).  The reference set
 * (8 commands) drives the LED on pin 13 and a relay on pin 12 (9 and 8 on
 * an Ethernet board) and reads a door contact on pin 2; SIOT_FW_COMMANDS = 1 keeps only led-toggle and 32
 * adds 24 gets of pin 3 (cmd-08 .. cmd-31), for the per-exchange cost.
 */
#ifndef SIOT_FW_COMMANDS_H
#define SIOT_FW_COMMANDS_H

#include "siot_device.h"

/* On an AVR the table lives in flash (PROGMEM) and the board copies one
 * command at a time out of it (siot_dev_board.command): in RAM, 32
 * commands and their names would take 500 of its 2,048 bytes. */
#if defined(__AVR__)
#include <avr/pgmspace.h>
#define FW_FLASH PROGMEM
#else
#define FW_FLASH
#endif

#define FW_NAME_MAX 15 /* the longest name below; SIOT_DEVICE_MAX_NAME */

struct fw_command {
	char name[FW_NAME_MAX + 1];
	uint8_t op, pin, value, active_low;
	uint16_t pulse_ms;
};

#ifndef SIOT_FW_COMMANDS
#define SIOT_FW_COMMANDS 8
#endif

/* With an Ethernet shield (SIOT_FW_ETHERNET) D10..D13 are its SPI bus and
 * D4 its SD card's select: the LED and the relay move to D9 and D8. */
#if SIOT_FW_ETHERNET
#define FW_LED 9
#define FW_RELAY 8
#else
#define FW_LED 13
#define FW_RELAY 12
#endif
#define FW_DOOR 2
#define FW_AUX 3

#ifdef __cplusplus
extern "C" {
#endif

extern const struct fw_command fw_commands[] FW_FLASH;
extern const uint8_t fw_n_commands;

#ifdef __cplusplus
}
#endif

#endif
