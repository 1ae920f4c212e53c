/* SPDX-License-Identifier: MIT */
/*
 * siot on an ATmega328P at 16 MHz (Arduino Pro Mini or Uno): the device core
 * on USART0 (115200 8N1), pins by their Arduino numbers (D2..D7 on PORTD,
 * D8..D13 on PORTB; D13 is the LED), keys and the DRBG seed from EEPROM
 * (src/device/provision.h), a millisecond clock from Timer0.
 *
 * SIOT_FW_ETHERNET = 1 builds the image for a Pro Mini (or Uno) with an
 * Arduino Ethernet shield instead: the W5100 on SPI (D10 its chip select,
 * D11..D13 the bus, D4 the shield's SD card, held deselected), the core in
 * its stream mode on TCP (w5100_serve.c) with the address and port from
 * the EEPROM's network block, and the LED and relay moved off the SPI pins
 * to D9 and D8 (commands.h).  The UART is left alone.
 *
 * Free RAM is measured from outside: avr/paint.c paints it before main, and
 * the harness (tests/firmware/avr-bridge) reads back how much was never
 * touched.
 */
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <string.h>

#include "commands.h"
#include "provision.h"
#include "siot_device.h"

#ifndef SIOT_FW_ETHERNET
#define SIOT_FW_ETHERNET 0
#endif

#if SIOT_FW_ETHERNET
#include "w5100_serve.h"
#endif

#define BAUD 115200UL

/* ---- USART0 (or SPI and the W5100) and the clock -------------------------- */

static volatile uint32_t ms;

#if SIOT_FW_ETHERNET
/* SPI master at F_CPU/2 (8 MHz; the W5100 takes up to 14), mode 0. */
static void spi_init(void)
{
	PORTB |= _BV(PB2);                        /* D10: the W5100 deselected */
	DDRB |= _BV(PB2) | _BV(PB3) | _BV(PB5);   /* D10 (SS: keeps us master), MOSI, SCK */
	PORTD |= _BV(PD4);                        /* D4: the SD card deselected */
	DDRD |= _BV(PD4);
	SPCR = _BV(SPE) | _BV(MSTR);
	SPSR = _BV(SPI2X);
}

void w5100_spi_select(bool on)
{
	if (on)
		PORTB &= (uint8_t)~_BV(PB2);
	else
		PORTB |= _BV(PB2);
}

uint8_t w5100_spi_xfer(uint8_t out)
{
	SPDR = out;
	loop_until_bit_is_set(SPSR, SPIF);
	return SPDR;
}
#else
static volatile uint8_t rx_buf[16];
static volatile uint8_t rx_head, rx_tail;

ISR(USART_RX_vect)
{
	uint8_t b = UDR0, next = (uint8_t)((rx_head + 1) % sizeof(rx_buf));

	if (next != rx_tail) { /* full: the byte is lost, as on a real line */
		rx_buf[rx_head] = b;
		rx_head = next;
	}
}

#endif

ISR(TIMER0_COMPA_vect)
{
	ms++;
}

static uint32_t now_ms(void)
{
	uint32_t t;

	cli();
	t = ms;
	sei();
	return t;
}

#if !SIOT_FW_ETHERNET
static void uart_init(void)
{
	UCSR0A = _BV(U2X0);
	UBRR0 = (uint16_t)(F_CPU / 8 / BAUD - 1);
	UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
	UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
}
#endif

static void clock_init(void)
{
	TCCR0A = _BV(WGM01);              /* CTC */
	TCCR0B = _BV(CS01) | _BV(CS00);   /* /64: 250 kHz */
	OCR0A = 249;                      /* 1 ms */
	TIMSK0 = _BV(OCIE0A);
}

/* ---- the board for the core ----------------------------------------------- */

static uint32_t b_now(void *ctx)
{
	(void)ctx;
	return now_ms();
}

static struct siot_device dev;

#if SIOT_FW_ETHERNET
static struct w5100_server server;

static void b_send(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	w5100_serve_send(&server, buf, len);
}

static void b_close(void *ctx)
{
	(void)ctx;
	w5100_serve_close(&server);
}
#else
static void b_send(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	while (len--) {
		loop_until_bit_is_set(UCSR0A, UDRE0);
		UDR0 = *buf++;
	}
}

static void b_discard_input(void *ctx)
{
	(void)ctx;
	cli();
	rx_tail = rx_head;
	sei();
}
#endif

static volatile uint8_t *port_of(uint8_t pin, uint8_t *bit)
{
	if (pin >= 8) {
		*bit = _BV(pin - 8);
		return &PORTB;
	}
	*bit = _BV(pin);
	return &PORTD;
}

static void b_write(void *ctx, uint8_t pin, bool level)
{
	uint8_t bit;
	volatile uint8_t *port = port_of(pin, &bit);

	(void)ctx;
	if (level)
		*port |= bit;
	else
		*port &= (uint8_t)~bit;
}

/* An output reads back what it drives (PORTx), an input its pin (PINx). */
static bool b_read(void *ctx, uint8_t pin)
{
	uint8_t bit;
	volatile uint8_t *port = port_of(pin, &bit);
	volatile uint8_t *ddr = port == &PORTB ? &DDRB : &DDRD;
	volatile uint8_t *in = port == &PORTB ? &PINB : &PIND;

	(void)ctx;
	return ((*ddr & bit) ? *port : *in) & bit;
}

static void eeprom_read(uint16_t offset, void *out, size_t len)
{
	eeprom_read_block(out, (const void *)(uintptr_t)offset, len);
}

static int b_load_key(void *ctx, uint8_t client, struct siot_key *key)
{
	(void)ctx;
	return prov_load_key(eeprom_read, client, key);
}

/* The ids stay in EEPROM, read when needed: 66 bytes of RAM. */
static void b_id(void *ctx, uint8_t which, char *buf)
{
	(void)ctx;
	prov_id(eeprom_read, which, buf);
}

/* Command i, out of flash. */
static void b_command(void *ctx, uint8_t i, struct siot_dev_command *out, char *name)
{
	struct fw_command f;

	(void)ctx;
	memcpy_P(&f, &fw_commands[i], sizeof(f));
	memcpy(name, f.name, sizeof(f.name));
	*out = (struct siot_dev_command){ .op = f.op, .pin = f.pin, .value = f.value,
					  .active_low = f.active_low, .pulse_ms = f.pulse_ms };
}

static const struct siot_dev_board board = {
	.now = b_now, .send = b_send,
#if SIOT_FW_ETHERNET
	.close = b_close,
#else
	.discard_input = b_discard_input,
#endif
	.pin_write = b_write, .pin_read = b_read,
	.load_key = b_load_key, .command = b_command, .id = b_id,
};

/* ---- start-up ------------------------------------------------------------- */

static struct siot_dev_client client = { .allowed = 0xffffffffUL }; /* its id: b_id */
static struct siot_dev_config config = {
	/* n_commands: set in main; the table is in flash (b_command), and
	 * so are the ids in EEPROM (b_id) */
	.clients = &client,
	.n_clients = 1,
	.classic_response = true,
	.stream = SIOT_FW_ETHERNET,
};

/* Bytes left from before the reset: some entropy on real parts (none in an
 * emulator; the boot counter alone keeps challenges apart there). */
static uint8_t leftover[8] __attribute__((section(".noinit")));

static void eeprom_write(uint16_t offset, const void *in, size_t len)
{
	eeprom_update_block(in, (void *)(uintptr_t)offset, len);
}

/* The boot counter, incremented in EEPROM (and read back) before the DRBG
 * is seeded with it, so no two boots share a stream of challenges; its two
 * copies keep it from going back when a reset tears the write. */
static int seed_drbg(void)
{
	uint32_t boot;

	if (prov_boot_next(eeprom_read, eeprom_write, &boot) < 0)
		return -1;
	return prov_seed_drbg(eeprom_read, boot, leftover, sizeof(leftover));
}

int main(void)
{
	for (uint8_t i = 0; i < fw_n_commands; i++) {
		struct fw_command cmd;
		const struct fw_command *c = &cmd;
		uint8_t bit;
		volatile uint8_t *port;
		volatile uint8_t *ddr;

		memcpy_P(&cmd, &fw_commands[i], sizeof(cmd));
		port = port_of(c->pin, &bit);
		ddr = port == &PORTB ? &DDRB : &DDRD;
		if (c->op == SIOT_DEV_GET && c->pin != FW_LED && c->pin != FW_RELAY)
			*port |= bit; /* an input with its pull-up */
		else if (c->op != SIOT_DEV_GET)
			*ddr |= bit;
	}
	config.n_commands = fw_n_commands;
	clock_init();
	sei();
#if SIOT_FW_ETHERNET
	{
		struct prov_network net;

		spi_init();
		/* Unprovisioned, without a network block, the wrong profile
		 * for this build, or no shield: serve nothing. */
		if (prov_config(eeprom_read, &config) < 0 || prov_network(eeprom_read, &net) < 0 ||
		    seed_drbg() < 0 || siot_device_init(&dev, &config, &board) < 0 ||
		    w5100_serve_start(&server, &net, &dev, now_ms) < 0)
			for (;;)
				;
	}
	for (;;)
		w5100_serve(&server);
#else
	uart_init();
	/* Unprovisioned, or the wrong profile for this build: serve nothing
	 * (the LED stays off, the line silent). */
	if (prov_config(eeprom_read, &config) < 0 || seed_drbg() < 0 ||
	    siot_device_init(&dev, &config, &board) < 0)
		for (;;)
			;
	for (;;) {
		uint8_t chunk[16];
		uint8_t n = 0;

		cli();
		while (rx_tail != rx_head && n < sizeof(chunk)) {
			chunk[n++] = rx_buf[rx_tail];
			rx_tail = (uint8_t)((rx_tail + 1) % sizeof(rx_buf));
		}
		sei();
		if (n)
			siot_device_input(&dev, chunk, n, now_ms());
		else
			siot_device_tick(&dev, now_ms());
	}
#endif
}
