/* SPDX-License-Identifier: MIT */
/*
 * w5100-probe.elf: a test image that drives the W5100 wrongly on purpose,
 * once, so that tests/firmware/test_ethernet.py can check that avr-bridge's
 * W5100 model refuses each kind of mistake the datasheet rules out rather
 * than agreeing with it.  EEPROM byte 0 names the mistake:
 *
 *   'f'  a frame of 3 bytes under one chip select
 *   'o'  a frame with an opcode other than 0xF0 or 0x0F
 *   'u'  a read of socket 1's status (0x0503): a register the model has not
 *   'r'  a write to socket 0's Sn_SR, which is read-only
 *   'l'  LISTEN on a socket that is CLOSED (not INIT)
 *   'b'  a write to Sn_MR while Sn_CR has not cleared
 *   'x'  a read of RX memory past what was received
 *   'n'  nothing wrong: a reset, then the common registers set and read
 *        back, and socket 0 opened and listening (the model must say
 *        nothing, and the image then idles)
 */
#include <avr/eeprom.h>
#include <avr/io.h>
#include <stdbool.h>
#include <stdint.h>

static void select(bool on)
{
	if (on)
		PORTB &= (uint8_t)~_BV(PB2);
	else
		PORTB |= _BV(PB2);
}

static uint8_t xfer(uint8_t out)
{
	SPDR = out;
	loop_until_bit_is_set(SPSR, SPIF);
	return SPDR;
}

/* n bytes of a frame under one select. */
static uint8_t frame(const uint8_t *b, uint8_t n)
{
	uint8_t last = 0;

	select(true);
	for (uint8_t i = 0; i < n; i++)
		last = xfer(b[i]);
	select(false);
	return last;
}

static void wr(uint16_t a, uint8_t v)
{
	const uint8_t f[4] = { 0xF0, (uint8_t)(a >> 8), (uint8_t)a, v };

	frame(f, 4);
}

static uint8_t rd(uint16_t a)
{
	const uint8_t f[4] = { 0x0F, (uint8_t)(a >> 8), (uint8_t)a, 0 };

	return frame(f, 4);
}

static void command(uint8_t cmd)
{
	wr(0x0401, cmd);
	while (rd(0x0401))
		;
}

int main(void)
{
	uint8_t what = eeprom_read_byte((const uint8_t *)0);

	PORTB |= _BV(PB2);
	DDRB |= _BV(PB2) | _BV(PB3) | _BV(PB5);
	SPCR = _BV(SPE) | _BV(MSTR);
	SPSR = _BV(SPI2X);
	wr(0x0000, 0x80); /* reset */
	while (rd(0x0000) & 0x80)
		;
	switch (what) {
	case 'f': {
		const uint8_t f[3] = { 0x0F, 0x00, 0x1A };

		frame(f, 3);
		break;
	}
	case 'o': {
		const uint8_t f[4] = { 0xAA, 0x00, 0x1A, 0 };

		frame(f, 4);
		break;
	}
	case 'u':
		(void)rd(0x0503);
		break;
	case 'r':
		wr(0x0403, 0x17);
		break;
	case 'l':
		wr(0x0400, 0x01);
		wr(0x0404, 0x1D);
		wr(0x0405, 0x2C);
		command(0x02);
		break;
	case 'b':
		wr(0x0400, 0x01);
		wr(0x0404, 0x1D);
		wr(0x0405, 0x2C);
		wr(0x0401, 0x01); /* OPEN, not waited for */
		wr(0x0400, 0x01);
		break;
	case 'x':
		(void)rd(0x6000);
		break;
	default: {
		static const uint8_t ip[4] = { 192, 168, 1, 177 };

		for (uint8_t i = 0; i < 4; i++)
			wr((uint16_t)(0x000F + i), ip[i]);
		if (rd(0x0012) != 177 || rd(0x001A) != 0x55 || rd(0x0403) != 0x00)
			break; /* the model's defaults are not the datasheet's */
		wr(0x0400, 0x01);
		wr(0x0404, 0x1D);
		wr(0x0405, 0x2C);
		command(0x01);
		if (rd(0x0403) != 0x13)
			break;
		command(0x02);
		if (rd(0x0403) != 0x14)
			break;
		PORTB |= _BV(PB1); /* D9: all as the datasheet says */
		DDRB |= _BV(PB1);
	}
	}
	for (;;)
		;
}
