/* SPDX-License-Identifier: MIT */
/* The firmware's command table: see commands.h. */
#include "commands.h"

#ifndef SIOT_FW_COMMANDS
#define SIOT_FW_COMMANDS 8
#endif

#define FW_GET_AUX(n) { .name = "cmd-" #n, .op = SIOT_DEV_GET, .pin = FW_AUX }

const struct fw_command fw_commands[] FW_FLASH = {
	{ .name = "led-toggle", .op = SIOT_DEV_TOGGLE, .pin = FW_LED },
#if SIOT_FW_COMMANDS >= 8
	{ .name = "led-on", .op = SIOT_DEV_SET, .pin = FW_LED, .value = 1 },
	{ .name = "led-off", .op = SIOT_DEV_SET, .pin = FW_LED, .value = 0 },
	{ .name = "led-pulse", .op = SIOT_DEV_PULSE, .pin = FW_LED, .value = 1, .pulse_ms = 200 },
	{ .name = "led", .op = SIOT_DEV_GET, .pin = FW_LED },
	{ .name = "relay-on", .op = SIOT_DEV_SET, .pin = FW_RELAY, .value = 1 },
	{ .name = "relay-off", .op = SIOT_DEV_SET, .pin = FW_RELAY, .value = 0 },
	{ .name = "door", .op = SIOT_DEV_GET, .pin = FW_DOOR, .active_low = 1 },
#endif
#if SIOT_FW_COMMANDS >= 32
	FW_GET_AUX(08), FW_GET_AUX(09), FW_GET_AUX(10), FW_GET_AUX(11), FW_GET_AUX(12),
	FW_GET_AUX(13), FW_GET_AUX(14), FW_GET_AUX(15), FW_GET_AUX(16), FW_GET_AUX(17),
	FW_GET_AUX(18), FW_GET_AUX(19), FW_GET_AUX(20), FW_GET_AUX(21), FW_GET_AUX(22),
	FW_GET_AUX(23), FW_GET_AUX(24), FW_GET_AUX(25), FW_GET_AUX(26), FW_GET_AUX(27),
	FW_GET_AUX(28), FW_GET_AUX(29), FW_GET_AUX(30), FW_GET_AUX(31),
#endif
};
const uint8_t fw_n_commands = sizeof(fw_commands) / sizeof(fw_commands[0]);

