/* SPDX-License-Identifier: MIT */
/*
 * siot on a Cortex-M3: the Arm MPS2 board with the AN385 image, as QEMU's
 * mps2-an385 models it.  The device core on UART0 (CMSDK APB UART; its
 * receive interrupt fills a ring), a 1 ms SysTick, the core asleep (WFI)
 * between them, and the board's FPGAIO block for pins: the LED on "pin 13"
 * is LED0's bit 0, the relay on "pin 12" its bit 1, and the door on "pin 2"
 * the BUTTON register's bit 0 (read only).  The provisioned secrets
 * (src/device/provision.h) are a flash page at PROV_PAGE; the boot counter
 * has a page of its own (COUNTER_PAGE), which the firmware rewrites at every
 * boot, so that loading the secrets again (QEMU's loader does at every
 * reset) does not take the counter back.
 *
 * SIOT_FW_LWIP = 1 builds the network image instead: the core in its stream
 * mode on TCP, through lwIP on the board's LAN9118 (net.c), with the
 * address and port of the page's network block; UART0 is left alone.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "commands.h"
#include "provision.h"
#include "siot_device.h"

#ifndef SIOT_FW_LWIP
#define SIOT_FW_LWIP 0
#endif
#if SIOT_FW_LWIP
#include "net.h"
#endif

#define REG(a) (*(volatile uint32_t *)(a))

#define SYSCLK 25000000u
#define UART0 0x40004000u
#define UART_DATA REG(UART0 + 0x00)
#define UART_STATE REG(UART0 + 0x04) /* bit 0: TX full, bit 1: RX full */
#define UART_CTRL REG(UART0 + 0x08)  /* bit 0: TX enable, bit 1: RX enable, 3: RX irq */
#define UART_INTSTATUS REG(UART0 + 0x0C) /* write 1 to clear: bit 1 RX */
#define UART_BAUDDIV REG(UART0 + 0x10)
#define FPGAIO_LED REG(0x40028000u)
#define FPGAIO_BUTTON REG(0x40028008u)
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define NVIC_ISER0 REG(0xE000E100u)
#define UART0_RX_IRQ 0

#define PROV_PAGE ((const volatile uint8_t *)0x003FF000u)
#define COUNTER_PAGE ((volatile uint8_t *)0x003FE000u)

/* ---- start-up -------------------------------------------------------------- */

extern uint32_t _data_load, _data_start, _data_end, _bss_start, _bss_end, _heap_start,
	_stack_top;
int main(void);

void reset_handler(void)
{
	uint32_t *src = &_data_load;

	for (uint32_t *d = &_data_start; d < &_data_end;)
		*d++ = *src++;
	for (uint32_t *d = &_bss_start; d < &_bss_end;)
		*d++ = 0;
	main();
	for (;;)
		;
}

static void halt(void)
{
	for (;;)
		;
}

static volatile uint32_t ms;
static volatile uint8_t rx_buf[64];
static volatile uint8_t rx_head, rx_tail;

void systick_handler(void)
{
	ms++;
}

void uart0_rx_handler(void)
{
	UART_INTSTATUS = 2u;
	while (UART_STATE & 2u) {
		uint8_t b = (uint8_t)UART_DATA, next = (uint8_t)((rx_head + 1) % sizeof(rx_buf));

		if (next != rx_tail) { /* full: lost, as on a real line */
			rx_buf[rx_head] = b;
			rx_head = next;
		}
	}
}

/* The vector table: the initial stack, the handlers, then IRQ 0 (UART0 RX). */
__attribute__((section(".vectors"), used)) static const uintptr_t vectors[17] = {
	(uintptr_t)&_stack_top, (uintptr_t)reset_handler, (uintptr_t)halt, (uintptr_t)halt,
	(uintptr_t)halt, (uintptr_t)halt, (uintptr_t)halt, 0, 0, 0, 0, (uintptr_t)halt,
	(uintptr_t)halt, 0, (uintptr_t)halt, (uintptr_t)systick_handler,
	(uintptr_t)uart0_rx_handler,
};

/* newlib's malloc (Mbed TLS's DRBG allocates once, when seeded). */
void *_sbrk(ptrdiff_t incr)
{
	static uintptr_t brk;
	uintptr_t old, limit = (uintptr_t)&_stack_top - 16384; /* the stack's 16 KB */

	if (!brk)
		brk = (uintptr_t)&_heap_start;
	old = brk;
	if (incr < 0 || brk + (uintptr_t)incr > limit)
		return (void *)-1;
	brk += (uintptr_t)incr;
	return (void *)old;
}

/* ---- the board for the core ------------------------------------------------ */

static uint32_t b_now(void *ctx)
{
	(void)ctx;
	return ms;
}

#if SIOT_FW_LWIP
static void b_send(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	net_send(buf, len);
}

static void b_close(void *ctx)
{
	(void)ctx;
	net_close();
}

static uint32_t now_ms(void)
{
	return ms;
}
#else
static void b_send(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	while (len--) {
		while (UART_STATE & 1u)
			;
		UART_DATA = *buf++;
	}
}

static void b_discard_input(void *ctx)
{
	(void)ctx;
	__asm__ volatile("cpsid i" ::: "memory");
	rx_tail = rx_head;
	__asm__ volatile("cpsie i" ::: "memory");
}
#endif

static uint32_t led_bit(uint8_t pin)
{
	return pin == FW_LED ? 1u : pin == FW_RELAY ? 2u : 0u;
}

static void b_write(void *ctx, uint8_t pin, bool level)
{
	(void)ctx;
	if (level)
		FPGAIO_LED |= led_bit(pin);
	else
		FPGAIO_LED &= ~led_bit(pin);
}

static bool b_read(void *ctx, uint8_t pin)
{
	(void)ctx;
	if (led_bit(pin))
		return FPGAIO_LED & led_bit(pin);
	return FPGAIO_BUTTON & (pin == FW_DOOR ? 1u : 2u);
}

static void page_read(uint16_t offset, void *out, size_t len)
{
	uint8_t *o = out;

	for (size_t i = 0; i < len; i++)
		o[i] = PROV_PAGE[offset + i];
}

static int b_load_key(void *ctx, uint8_t client, struct siot_key *key)
{
	(void)ctx;
	return prov_load_key(page_read, client, key);
}

static void b_id(void *ctx, uint8_t which, char *buf)
{
	(void)ctx;
	prov_id(page_read, which, buf);
}

static const struct siot_dev_board board = {
	.now = b_now, .send = b_send,
#if SIOT_FW_LWIP
	.close = b_close,
#else
	.discard_input = b_discard_input,
#endif
	.pin_write = b_write, .pin_read = b_read, .load_key = b_load_key,
	.id = b_id,
};

/* ---- start-up ---------------------------------------------------------------- */

static struct siot_dev_command commands[SIOT_DEVICE_MAX_COMMANDS];
static struct siot_dev_client client = { .allowed = 0xffffffffu }; /* its id: b_id */
static struct siot_dev_config config = {
	.commands = commands,
	.clients = &client,
	.n_clients = 1,
	.classic_response = true,
	.stream = SIOT_FW_LWIP,
};
static struct siot_device dev;

/* The counter page holds the layout's two boot counter copies
 * (PROV_OFF_BOOT_A .. PROV_OFF_NET) at its start. */
static void counter_read(uint16_t offset, void *out, size_t len)
{
	uint8_t *o = out;

	for (size_t i = 0; i < len; i++)
		o[i] = COUNTER_PAGE[offset - PROV_OFF_BOOT_A + i];
}

static void counter_write(uint16_t offset, const void *in, size_t len)
{
	const uint8_t *p = in;

	for (size_t i = 0; i < len; i++)
		COUNTER_PAGE[offset - PROV_OFF_BOOT_A + i] = p[i];
}

/* The boot counter, incremented in its page (and read back) before the DRBG
 * is seeded with it.  A Cortex-M3 has no entropy source here, and QEMU is
 * deterministic: the counter alone keeps boots apart. */
static int seed_drbg(void)
{
	uint32_t boot;

	if (prov_boot_next(counter_read, counter_write, &boot) < 0)
		return -1;
	return prov_seed_drbg(page_read, boot, NULL, 0);
}

int main(void)
{
	for (uint8_t i = 0; i < fw_n_commands; i++) {
		const struct fw_command *f = &fw_commands[i];

		commands[i] = (struct siot_dev_command){ .name = f->name, .op = f->op, .pin = f->pin,
							 .value = f->value,
							 .active_low = f->active_low,
							 .pulse_ms = f->pulse_ms };
	}
	config.n_commands = fw_n_commands;
	SYST_RVR = SYSCLK / 1000 - 1;
	SYST_CVR = 0;
	SYST_CSR = 7u; /* the processor clock, the interrupt, on */
#if SIOT_FW_LWIP
	{
		struct prov_network pn;

		if (prov_config(page_read, &config) < 0 || prov_network(page_read, &pn) < 0 ||
		    seed_drbg() < 0 || siot_device_init(&dev, &config, &board) < 0 ||
		    net_start(&pn, &dev, now_ms) < 0)
			halt();
	}
	for (;;)
		if (!net_poll())
			__asm__ volatile("wfi"); /* until the next millisecond */
#else
	UART_BAUDDIV = SYSCLK / 115200;
	UART_CTRL = 3u | 8u; /* TX, RX, the RX interrupt */
	NVIC_ISER0 = 1u << UART0_RX_IRQ;
	if (prov_config(page_read, &config) < 0 || seed_drbg() < 0 ||
	    siot_device_init(&dev, &config, &board) < 0)
		halt();
	for (;;) {
		uint8_t chunk[16];
		uint8_t n = 0;

		__asm__ volatile("cpsid i" ::: "memory");
		while (rx_tail != rx_head && n < sizeof(chunk)) {
			chunk[n++] = rx_buf[rx_tail];
			rx_tail = (uint8_t)((rx_tail + 1) % sizeof(rx_buf));
		}
		if (!n)
			__asm__ volatile("wfi"); /* until a byte or the next millisecond */
		__asm__ volatile("cpsie i" ::: "memory");
		if (n)
			siot_device_input(&dev, chunk, n, ms);
		else
			siot_device_tick(&dev, ms);
	}
#endif
}
