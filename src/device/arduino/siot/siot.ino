// SPDX-License-Identifier: MIT
//
// siot on an Arduino Pro Mini or Uno (ATmega328P, 16 MHz), serving over its
// USB serial port at 115200 baud, or over TCP with an Ethernet shield.  The same device core and EEPROM layout as
// src/device/avr (provision.py writes the EEPROM), with the Arduino core's
// Serial, millis(), digitalWrite() and EEPROM instead of registers:
//   D13  the LED: led-toggle, led-on, led-off, led-pulse (200 ms), led
//   D12  a relay: relay-on, relay-off
//   D2   a door contact to ground (pull-up): door
//
// Build: meson setup build-avr --cross-file src/device/cross/atmega328p.txt
// (with Debian's arduino-core-avr) builds siot-arduino.elf beside the other
// images; that build is the one CI compiles and runs in simavr.  Another
// build (the Arduino IDE, say) needs src/device's and src/proto's files,
// Mbed TLS 2.28 (3.x needs 32-bit ints) with src/proto/mbedtls's config,
// the -D flags src/device/meson.build passes, and Serial's buffers small
// enough for the 2 KB of RAM: -DSERIAL_RX_BUFFER_SIZE=16
// -DSERIAL_TX_BUFFER_SIZE=16.  Its SHA-256 compression is the AVR's own
// (src/device/sha256_process.c, behind MBEDTLS_SHA256_PROCESS_ALT), with its
// constants in flash.
//
// With an Arduino Ethernet shield (W5100), define SIOT_FW_ETHERNET to 1
// (meson builds that variant as siot-arduino-eth.elf; in the IDE, a
// #define SIOT_FW_ETHERNET 1 above the includes): it serves TCP instead,
// on the EEPROM's network block (provision.py --ip), through src/device's
// own W5100 driver (w5100.c; Debian ships no Arduino Ethernet library) on
// the Arduino SPI library.  D10..D13 are then the shield's SPI and D4 its
// SD card's select, so the LED and the relay move:
//   D9   the LED;  D8  the relay;  D2  the door contact, as before.
#include <Arduino.h>
#include <EEPROM.h>
#include <avr/pgmspace.h>
#include <string.h>

#include "commands.h"
#include "provision.h"
#include "siot_device.h"

#if SIOT_FW_ETHERNET
#include <SPI.h>

#include "w5100_serve.h"

// The W5100's SPI: mode 0, up to 14 MHz (8 here); chip select on D10.
extern "C" void w5100_spi_select(bool on)
{
	if (on) {
		SPI.beginTransaction(SPISettings(8000000, MSBFIRST, SPI_MODE0));
		digitalWrite(10, LOW);
	} else {
		digitalWrite(10, HIGH);
		SPI.endTransaction();
	}
}

extern "C" uint8_t w5100_spi_xfer(uint8_t out)
{
	return SPI.transfer(out);
}

static uint32_t now_ms(void) { return millis(); }
#endif

static uint32_t board_now(void *) { return millis(); }

static struct siot_device dev;

#if SIOT_FW_ETHERNET
static struct w5100_server server;

static void board_send(void *, const uint8_t *buf, size_t len)
{
	w5100_serve_send(&server, buf, len);
}

static void board_close(void *)
{
	w5100_serve_close(&server);
}
#else
static void board_send(void *, const uint8_t *buf, size_t len)
{
	Serial.write(buf, len);
	Serial.flush();
}

static void board_discard_input(void *)
{
	while (Serial.available())
		Serial.read();
}
#endif

static void board_write(void *, uint8_t pin, bool level)
{
	digitalWrite(pin, level ? HIGH : LOW);
}

static bool board_read(void *, uint8_t pin)
{
	return digitalRead(pin) == HIGH;
}

static void eeprom_read(uint16_t offset, void *out, size_t len)
{
	uint8_t *o = (uint8_t *)out;

	for (size_t i = 0; i < len; i++)
		o[i] = EEPROM.read(offset + i);
}

static void eeprom_write(uint16_t offset, const void *in, size_t len)
{
	const uint8_t *p = (const uint8_t *)in;

	for (size_t i = 0; i < len; i++)
		EEPROM.update(offset + i, p[i]);
}

static int board_load_key(void *, uint8_t client, struct siot_key *key)
{
	return prov_load_key(eeprom_read, client, key);
}

static void board_id(void *, uint8_t which, char *buf)
{
	prov_id(eeprom_read, which, buf);
}

static void board_command(void *, uint8_t i, struct siot_dev_command *out, char *name)
{
	struct fw_command f;

	memcpy_P(&f, &fw_commands[i], sizeof(f));
	memcpy(name, f.name, sizeof(f.name));
	memset(out, 0, sizeof(*out));
	out->op = f.op;
	out->pin = f.pin;
	out->value = f.value;
	out->active_low = f.active_low;
	out->pulse_ms = f.pulse_ms;
}

static struct siot_dev_board board;
static struct siot_dev_client client;
static struct siot_dev_config config;
static bool serving;

// The boot counter, incremented in EEPROM (and read back) before the DRBG is
// seeded with it: no two boots share a stream of challenges.  A floating
// pin's noise, if any, is mixed in.
static bool seed_drbg()
{
	uint32_t boot;
	uint16_t noise = analogRead(A0);

	if (prov_boot_next(eeprom_read, eeprom_write, &boot) < 0)
		return false;
	return prov_seed_drbg(eeprom_read, boot, (const uint8_t *)&noise, sizeof(noise)) == 0;
}

void setup()
{
	for (uint8_t i = 0; i < fw_n_commands; i++) {
		struct fw_command c;

		memcpy_P(&c, &fw_commands[i], sizeof(c));
		if (c.op != SIOT_DEV_GET)
			pinMode(c.pin, OUTPUT);
		else if (c.pin != FW_LED && c.pin != FW_RELAY)
			pinMode(c.pin, INPUT_PULLUP);
	}
	board.now = board_now;
	board.send = board_send;
#if SIOT_FW_ETHERNET
	board.close = board_close;
	config.stream = true;
#else
	Serial.begin(115200);
	board.discard_input = board_discard_input;
#endif
	board.pin_write = board_write;
	board.pin_read = board_read;
	board.load_key = board_load_key;
	board.command = board_command;
	board.id = board_id; // the ids stay in EEPROM
	client.allowed = 0xffffffffUL;
	config.n_commands = fw_n_commands;
	config.clients = &client;
	config.n_clients = 1;
	config.classic_response = true;
	// Unprovisioned, or a profile this build leaves out: serve nothing.
	serving = prov_config(eeprom_read, &config) == 0 && seed_drbg() &&
		  siot_device_init(&dev, &config, &board) == 0;
#if SIOT_FW_ETHERNET
	// The shield: its SD card deselected, the W5100 given the network
	// block's addresses (no block, or no shield: serve nothing).
	{
		struct prov_network net;

		pinMode(4, OUTPUT);
		digitalWrite(4, HIGH);
		SPI.begin();
		serving = serving && prov_network(eeprom_read, &net) == 0 &&
			  w5100_serve_start(&server, &net, &dev, now_ms) == 0;
	}
#endif
}

void loop()
{
	if (!serving)
		return;
#if SIOT_FW_ETHERNET
	w5100_serve(&server);
#else
	uint8_t chunk[16];
	uint8_t n = 0;

	while (n < sizeof(chunk) && Serial.available())
		chunk[n++] = (uint8_t)Serial.read();
	if (n)
		siot_device_input(&dev, chunk, n, millis());
	else
		siot_device_tick(&dev, millis());
#endif
}
