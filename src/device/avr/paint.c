/* SPDX-License-Identifier: MIT */
/*
 * The stack paint, for every ATmega328P image (avr/main.c and the Arduino
 * sketch): before main, everything from the heap's start to the stack is
 * painted with 0xC5, and the harness (tests/firmware/avr-bridge) reads back
 * how much of it was never touched: the RAM the image leaves free.  It runs
 * from .init3, before .data and .bss are set up, so it may use nothing but
 * registers.
 */
#include <avr/io.h>
#include <stdint.h>

#define PAINT 0xC5

extern uint8_t __heap_start;
void siot_paint_ram(void) __attribute__((naked, used, section(".init3")));
void siot_paint_ram(void)
{
	uint8_t *p = &__heap_start;

	while (p < (uint8_t *)SP - 2)
		*p++ = PAINT;
}
