/* SPDX-License-Identifier: MIT */
/*
 * sha256-check: a test image for the ATmega328P, not firmware.  It proves
 * the AVR's SHA-256 compression (sha256_process.c, behind Mbed TLS's
 * MBEDTLS_SHA256_PROCESS_ALT) in simavr, through the same Mbed TLS build
 * the firmware links, answering lines on USART0 (115200 baud):
 *
 *   s                  start a SHA-256
 *   k HEX              start an HMAC-SHA-256 (md.c) under the key HEX
 *   u HEX              feed bytes to what was started
 *   r N BB             feed N copies of the byte BB (hex)
 *   f                  finish: prints the digest or MAC in hex
 *   d COUNT SEED EVERY the differential run: COUNT messages of 0-300 bytes
 *                      from xorshift32 seeded with SEED (see below), each
 *                      hashed through Mbed TLS with this compression, and
 *                      every EVERY-th also with Mbed TLS's own (ref_*,
 *                      three times slower); prints "LEN FIRST8HEX" for
 *                      each, then "chain HEX", the SHA-256 of all the
 *                      digests, "compared N", the messages hashed both
 *                      ways, and "mismatches N", those where the two
 *                      differ.  The host checks every digest against its
 *                      own SHA-256.
 *   e WORD             echoes "e WORD": the harness's way to be in step
 *   c                  cycles of one compression, this file's and Mbed
 *                      TLS's own, by Timer1: "cycles alt=N ref=M"
 *   v KEY HELLO REQ COMMAND STATUS RESULT
 *                      a v1 vector (tests/siot-vectors.json) through the
 *                      device core: the one-state scan of COMMAND between
 *                      two decoys, then the response, printed in hex
 *   w KEY CHALLENGE REQ COMMANDHEX RESULT
 *                      a classic vector, the same way
 * Errors print "error WHAT".  Every answer is one line.
 *
 * The differential run's messages: x = SEED, then for each message
 * x = xorshift32(x); len = x % 301; each byte is the low byte of the next
 * xorshift32(x).  xorshift32: x ^= x << 13; x ^= x >> 17; x ^= x << 5.
 */
#include <avr/io.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbedtls/md.h"
#include "mbedtls/sha256.h"
#include "sha256_process.h"
#include "siot.h"

#define BAUD 115200UL

/* Mbed TLS's own sha256.c, built a second time with every public name
 * prefixed ref_ (src/device/meson.build): its compression, untouched. */
int ref_internal_sha256_process(mbedtls_sha256_context *ctx, const unsigned char data[64]);
int ref_sha256_ret(const unsigned char *input, size_t ilen, unsigned char output[32], int is224);

static char line[336];

static void uart_init(void)
{
	UCSR0A = _BV(U2X0);
	UBRR0 = (uint16_t)(F_CPU / 8 / BAUD - 1);
	UCSR0B = _BV(RXEN0) | _BV(TXEN0);
	UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
}

static void put(char c)
{
	loop_until_bit_is_set(UCSR0A, UDRE0);
	UDR0 = (uint8_t)c;
}

static void puts_(const char *s)
{
	while (*s)
		put(*s++);
}

static void put_hex(const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	while (n--) {
		put(digits[*b >> 4]);
		put(digits[*b++ & 15]);
	}
}

static void put_u32(uint32_t v)
{
	char buf[11];

	ultoa(v, buf, 10);
	puts_(buf);
}

static void read_line(void)
{
	size_t n = 0;

	for (;;) {
		char c;

		loop_until_bit_is_set(UCSR0A, RXC0);
		c = (char)UDR0;
		if (c == '\n')
			break;
		if (n + 1 < sizeof(line))
			line[n++] = c;
	}
	line[n] = 0;
}

/* The next space-separated field of the line (strtok's state). */
static char *field(void)
{
	return strtok(NULL, " ");
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Hex into the same buffer, in place (byte i lands at s + i, behind the
 * digits 2i and 2i + 1 it comes from).  Returns the byte count, or -1. */
static int unhex(char *s)
{
	uint8_t *out = (uint8_t *)s;
	int n = 0;

	if (!s)
		return -1;
	for (; s[0] && s[1]; s += 2) {
		int hi = nibble(s[0]), lo = nibble(s[1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
	}
	return s[0] ? -1 : n;
}

/* ---- s, k, u, r, f: one SHA-256 or HMAC at a time ------------------------ */

static mbedtls_sha256_context sha;
static mbedtls_md_context_t hmac;
static enum { NONE, SHA, HMAC } mode;

static void feed(const uint8_t *b, size_t n)
{
	if (mode == SHA)
		mbedtls_sha256_update_ret(&sha, b, n);
	else
		mbedtls_md_hmac_update(&hmac, b, n);
}

static void finish(void)
{
	uint8_t out[32];

	if (mode == SHA)
		mbedtls_sha256_finish_ret(&sha, out);
	else
		mbedtls_md_hmac_finish(&hmac, out);
	mode = NONE;
	put_hex(out, sizeof(out));
	put('\n');
}

static void hash_command(char op)
{
	char *a = field();
	int n;

	if (op == 's') {
		mbedtls_sha256_starts_ret(&sha, 0);
		mode = SHA;
	} else if (op == 'k') {
		if ((n = unhex(a)) < 0 || mbedtls_md_hmac_starts(&hmac, (uint8_t *)a, (size_t)n) != 0) {
			puts_("error key\n");
			return;
		}
		mode = HMAC;
	} else if (mode == NONE) {
		puts_("error nothing started\n");
		return;
	} else if (op == 'u') {
		if ((n = unhex(a)) < 0) {
			puts_("error hex\n");
			return;
		}
		feed((uint8_t *)a, (size_t)n);
	} else if (op == 'r') {
		char *b = field();
		uint32_t count = a ? strtoul(a, NULL, 10) : 0;
		uint8_t chunk[64];

		if (unhex(b) != 1) {
			puts_("error r N BB\n");
			return;
		}
		memset(chunk, (uint8_t)b[0], sizeof(chunk));
		while (count) {
			size_t k = count < sizeof(chunk) ? (size_t)count : sizeof(chunk);

			feed(chunk, k);
			count -= k;
		}
	} else {
		finish();
		return;
	}
	puts_("ok\n");
}

/* ---- d: the differential run ------------------------------------------ */

static uint32_t xorshift32(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void differential(void)
{
	char *a = field(), *b = field(), *c = field();
	uint32_t count = a ? strtoul(a, NULL, 10) : 0, x = b ? strtoul(b, NULL, 10) : 0;
	uint32_t every = c ? strtoul(c, NULL, 10) : 0, compared = 0, mismatches = 0, i;
	mbedtls_sha256_context chain;
	uint8_t *msg = (uint8_t *)line; /* its fields are read: 336 bytes free */

	if (!count || !x || !every) {
		puts_("error d COUNT SEED EVERY (none of them 0)\n");
		return;
	}
	mbedtls_sha256_init(&chain);
	mbedtls_sha256_starts_ret(&chain, 0);
	for (i = 0; i < count; i++) {
		uint16_t len = (uint16_t)(xorshift32(&x) % 301), j;
		uint8_t alt[32], ref[32];

		for (j = 0; j < len; j++)
			msg[j] = (uint8_t)xorshift32(&x);
		mbedtls_sha256_ret(msg, len, alt, 0);
		if (i % every == 0) {
			ref_sha256_ret(msg, len, ref, 0);
			mismatches += memcmp(alt, ref, sizeof(alt)) != 0;
			compared++;
		}
		mbedtls_sha256_update_ret(&chain, alt, sizeof(alt));
		put_u32(len);
		put(' ');
		put_hex(alt, 8);
		put('\n');
	}
	{
		uint8_t out[32];

		mbedtls_sha256_finish_ret(&chain, out);
		puts_("chain ");
		put_hex(out, sizeof(out));
		puts_("\ncompared ");
		put_u32(compared);
		puts_("\nmismatches ");
		put_u32(mismatches);
		put('\n');
	}
}

/* ---- c: cycles per compression, by Timer1 (16 bits, clk / 8) ----------- */

static uint16_t timed(bool alt, mbedtls_sha256_context *ctx, const uint8_t *block)
{
	uint16_t t;

	TCNT1 = 0;
	TCCR1B = _BV(CS11); /* clk / 8: 8 cycles a tick, up to 524,280 */
	if (alt)
		mbedtls_internal_sha256_process(ctx, block);
	else
		ref_internal_sha256_process(ctx, block);
	t = TCNT1;
	TCCR1B = 0;
	return t;
}

static void cycles(void)
{
	mbedtls_sha256_context ctx;
	uint8_t block[64];

	memset(block, 0x5a, sizeof(block));
	mbedtls_sha256_init(&ctx);
	mbedtls_sha256_starts_ret(&ctx, 0);
	puts_("cycles alt=");
	put_u32((uint32_t)timed(true, &ctx, block) * 8);
	puts_(" ref=");
	put_u32((uint32_t)timed(false, &ctx, block) * 8);
	put('\n');
}

/* ---- v, w: the protocol vectors through the device core ---------------- */

static const char *const decoys[2] = { "decoy-a", "decoy-b" };

/* One key state for scan() and vector() in turn: 2 KB of RAM has no room
 * for two on the stack beside the exchange. */
static struct siot_key key;

static bool key_of(struct siot_key *k, const char *hex_key)
{
	static char buf[65];
	int n;

	strncpy(buf, hex_key, sizeof(buf) - 1);
	n = unhex(buf);
	return n > 0 && siot_key_init(k, SIOT_HASH_SHA256, (uint8_t *)buf, (size_t)n) == 0;
}

/* The scan of COMMAND between the two decoys, one key state at a time, as
 * the firmware does; 1 when exactly COMMAND matched. */
static bool scan(struct siot_exchange *ex, const char *hex_key, const char *command)
{
	const char *list[3] = { decoys[0], command, decoys[1] };
	struct siot_scan sc = { 0 };
	size_t i, match = 9;

	for (i = 0; i < 3; i++) {
		if (!key_of(&key, hex_key))
			return false;
		siot_server_scan_one(ex, &key, list[i], i, &sc);
	}
	return siot_server_scan_end(&sc, &match) == 1 && match == 1;
}

static void vector(char op)
{
	char *k = field(), *h = field(), *r = field(), *c = field(), *st = op == 'v' ? field() : NULL;
	char *res = field();
	struct siot_params p;
	struct siot_exchange ex;
	uint8_t out[SIOT_MAX_RESPONSE];
	int hl, rl, n;
	size_t used;

	if (!res || (hl = unhex(h)) < 0 || (rl = unhex(r)) < 0) {
		puts_("error fields\n");
		return;
	}
	if (op == 'w') { /* the classic command is hex: any bytes */
		if ((n = unhex(c)) < 0) {
			puts_("error command\n");
			return;
		}
		c[n] = 0;
	}
	if (op == 'v') {
		/* HELLO: "SIOT", version, hash, tag length, challenge length,
		 * the challenge, the device id's length and the id. */
		const uint8_t *hello = (uint8_t *)h;
		char id[SIOT_MAX_ID + 1];
		int at = hl >= 8 ? 8 + hello[7] : hl;

		if (at >= hl || at + 1 + hello[at] != hl || hello[at] > SIOT_MAX_ID ||
		    siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, hello[6], hello[7], 0)) {
			puts_("error hello\n");
			return;
		}
		memcpy(id, hello + at + 1, hello[at]);
		id[hello[at]] = 0;
		siot_exchange_init(&ex, &p);
		if (siot_server_hello(&ex, id, hello + 8)) {
			puts_("error hello\n");
			return;
		}
	} else {
		if (siot_params_init(&p, SIOT_PROFILE_CLASSIC, SIOT_HASH_SHA256, 0, (unsigned)hl, 0)) {
			puts_("error challenge\n");
			return;
		}
		siot_exchange_init(&ex, &p);
		siot_server_hello(&ex, NULL, (uint8_t *)h);
	}
	if (siot_server_feed(&ex, (uint8_t *)r, (size_t)rl, &used) != SIOT_FEED_DONE) {
		puts_("error request\n");
		return;
	}
	if (!scan(&ex, k, c)) {
		puts_("error no match\n");
		return;
	}
	if (!key_of(&key, k)) {
		puts_("error key\n");
		return;
	}
	if (op == 'v')
		n = siot_server_response_consume(&ex, &key, (uint8_t)atoi(st), (uint8_t)atoi(res), NULL, 0,
						 out, sizeof(out));
	else
		n = siot_server_response_classic_consume(&ex, &key, (uint8_t)atoi(res), out);
	if (n < 0) {
		puts_("error response\n");
		return;
	}
	put_hex(out, (size_t)n);
	put('\n');
}

int main(void)
{
	uart_init();
	mbedtls_md_init(&hmac);
	if (mbedtls_md_setup(&hmac, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) != 0)
		puts_("error md\n");
	mbedtls_sha256_init(&sha);
	puts_("sha256-check\n");
	for (;;) {
		char *op;

		read_line();
		op = strtok(line, " ");
		if (!op || op[1])
			puts_("error command\n");
		else if (strchr("skurf", op[0]))
			hash_command(op[0]);
		else if (op[0] == 'd')
			differential();
		else if (op[0] == 'c')
			cycles();
		else if (op[0] == 'e') {
			char *w = field();

			puts_("e ");
			puts_(w ? w : "");
			put('\n');
		}
		else if (op[0] == 'v' || op[0] == 'w')
			vector(op[0]);
		else
			puts_("error command\n");
	}
}
