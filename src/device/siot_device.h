/* SPDX-License-Identifier: MIT */
/*
 * The siot server for a device without an OS: a microcontroller on a serial
 * line.  It is transport-agnostic and allocation-free: the board hands it
 * the bytes it receives and a millisecond clock, and gives it a function to
 * send bytes, pin functions and its keys.  Everything it keeps is in
 * struct siot_device, which the board allocates statically.
 *
 * On a stream with connections (cfg->stream: TCP through a W5100 or lwIP)
 * PROTOCOL.md's TCP rules apply; see struct siot_dev_config.  Otherwise
 * framing is PROTOCOL.md's "Serial lines": every exchange starts with
 * wakeup_length bytes of 0x00, answered with a HELLO; one request per
 * wake-up.  In v1, 0x00 bytes while a request is awaited are skipped (a
 * request cannot start with id_length 0), so a client may resend the wake-up
 * until a HELLO arrives.  Each HELLO starts a deadline (timeout_ms) for its
 * request; a late or malformed request is dropped without an answer.
 *
 * Results are siotd's: set/toggle/pulse answer OK with result 0 (a pulse
 * when it is over), get answers OK with the line's logical level, a command
 * whose pin is held by a running pulse answers BUSY (result 0), and a
 * request that matches nothing this client may run answers REJECTED
 * (result 0).  Every v1 request costs one MAC per command whatever its client
 * id; an unknown id is scanned with a dummy key.  No action runs without a
 * verified MAC, and a request runs at most one action.
 */
#ifndef SIOT_DEVICE_H
#define SIOT_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A firmware may serve one profile only, to save flash: define one of
 * these to 0. */
#ifndef SIOT_DEVICE_V1
#define SIOT_DEVICE_V1 1
#endif
#ifndef SIOT_DEVICE_CLASSIC
#define SIOT_DEVICE_CLASSIC 1
#endif

/* 0: a build for a serial line only, without the stream mode's code
 * (cfg->stream is refused). */
#ifndef SIOT_DEVICE_STREAM
#define SIOT_DEVICE_STREAM 1
#endif
/* 1: hold one HMAC state at a time (an ATmega328P's 2 KB): each candidate
 * of a scan loads the key and hashes the prefix again (RAM for time, about
 * 5 compressions a candidate).  0: the fast scan, the key and the prefix
 * once and a copy of that state per candidate (2 compressions a
 * candidate, a second HMAC state of RAM). */
#ifndef SIOT_DEVICE_LOW_RAM
#define SIOT_DEVICE_LOW_RAM 0
#endif

/* The longest command name a board's command() hands back. */
#ifndef SIOT_DEVICE_MAX_NAME
#define SIOT_DEVICE_MAX_NAME SIOT_MAX_COMMAND
#endif

#ifndef SIOT_DEVICE_MAX_COMMANDS
#define SIOT_DEVICE_MAX_COMMANDS 32
#endif

enum siot_dev_op {
	SIOT_DEV_SET = 0,  /* the pin to value */
	SIOT_DEV_TOGGLE,   /* the pin to its opposite */
	SIOT_DEV_PULSE,    /* the pin to value, then back after pulse_ms */
	SIOT_DEV_GET,      /* result = the pin's logical level */
	SIOT_DEV_CALL,     /* call(): its status and result */
};

struct siot_dev_command {
	const char *name;      /* [A-Za-z0-9._-]{1,64}; classic: 2 or more */
	uint8_t op;            /* enum siot_dev_op */
	uint8_t pin;           /* the board's pin number */
	uint8_t value;         /* SET and PULSE: the logical level, 0 or 1 */
	uint8_t active_low;    /* the pin's electrical level is inverted */
	uint16_t pulse_ms;     /* PULSE: 1 .. 65535 */
	/* CALL: returns an enum siot_status; *result is the unsent result. */
	uint8_t (*call)(void *board_ctx, uint8_t *result);
};

/* A client: its id (v1) and the commands it may run, a bit per command
 * index.  Its key comes from the board's load_key. */
struct siot_dev_client {
	const char *id;
	uint32_t allowed;
};

#define SIOT_DEV_DUMMY_KEY 0xff
#define SIOT_DEV_DEVICE_ID 0xfe

struct siot_dev_board {
	void *ctx;
	/* The millisecond clock (wrapping): a scan takes a while on a small
	 * part, and pulses and deadlines start when their action or HELLO
	 * does, not when the bytes that led to it came. */
	uint32_t (*now)(void *ctx);
	void (*send)(void *ctx, const uint8_t *buf, size_t len);
	/* Optional: drop whatever has been received and not yet handed to
	 * siot_device_input.  Called just before a HELLO is sent: nothing
	 * received before then is its request (the rest of a resent wake-up,
	 * noise), and in classic, whose request may begin with 0x00, a stray
	 * zero would shift it. */
	void (*discard_input)(void *ctx);
	void (*pin_write)(void *ctx, uint8_t pin, bool level); /* electrical level */
	bool (*pin_read)(void *ctx, uint8_t pin);
	/* The key of client i into *key (siot_key_init); 0, or < 0 when it
	 * cannot be read (the request is then answered as an unknown
	 * client's).  client SIOT_DEV_DUMMY_KEY asks for the dummy key that
	 * unknown client ids are scanned with: a random key provisioned with
	 * the others.  A board without one returns < 0 and the core makes one
	 * from the DRBG at start-up and keeps it in RAM (not in a
	 * SIOT_DEVICE_LOW_RAM build, which needs the board's). */
	int (*load_key)(void *ctx, uint8_t client, struct siot_key *key);
	/* Optional: the command table kept elsewhere than RAM (an AVR's
	 * flash).  Copies command i into *out and its name into
	 * name[0 .. SIOT_DEVICE_MAX_NAME], NUL-terminated; the core then reads
	 * commands only through it, one at a time (cfg->commands is not
	 * read), in either scan. */
	void (*command)(void *ctx, uint8_t i, struct siot_dev_command *out, char *name);
	/* Optional: the ids kept elsewhere than RAM (an AVR's EEPROM).
	 * Copies the device id (which = SIOT_DEV_DEVICE_ID) or client
	 * `which`'s id into buf[0 .. SIOT_MAX_ID], NUL-terminated; the core
	 * then reads cfg->device_id and clients[].id only through it, into a
	 * buffer on its stack for as long as it needs one (33 bytes each that
	 * a 2 KB part keeps free between exchanges). */
	void (*id)(void *ctx, uint8_t which, char *buf);
	/* A stream's (cfg->stream): the exchange is over, answered or
	 * dropped.  Shut down the sending side, drain the input (up to 1 s)
	 * and close, as siot-protocol(7) asks; then report the next
	 * connection with siot_device_connect. */
	void (*close)(void *ctx);
};

struct siot_dev_config {
	struct siot_params params;   /* wakeup_length >= 1, but for a stream */
	const char *device_id;       /* v1; NULL with board->id */
	const struct siot_dev_command *commands;
	uint8_t n_commands;          /* 1 .. SIOT_DEVICE_MAX_COMMANDS */
	const struct siot_dev_client *clients;
	uint8_t n_clients;           /* 1 ..; classic: 1 */
	uint16_t timeout_ms;         /* per HELLO; 0 means 5000 */
	bool classic_response;       /* classic: answer OK/FAILED (siotd's
				      * classic_response) */
	/* A stream with connections (TCP) instead of a serial line: PROTOCOL.md's
	 * TCP rules.  On siot_device_connect the HELLO goes out at once when
	 * wakeup_length is 0, and after exactly wakeup_length bytes (any value)
	 * otherwise; bytes before the HELLO close the connection; one request
	 * per connection (max_requests 1), then board->close; the deadline
	 * runs from the connection, then from the HELLO. */
	bool stream;
};

struct siot_device {
	const struct siot_dev_config *cfg;
	const struct siot_dev_board *board;
	struct siot_exchange ex;
	uint8_t state;       /* internal */
	uint8_t wake_have;   /* wake-up bytes seen */
	uint32_t deadline;   /* ms, while a request is awaited */
	/* A running pulse: its command, its end, and whether the exchange that
	 * started it still waits for its response. */
	int8_t pulse_cmd;
	uint8_t pulse_pin;
	bool pulse_answer;
	uint8_t pulse_client;
	uint32_t pulse_end;
	bool req_started;    /* v1: a request byte other than 0x00 came */
#if !SIOT_DEVICE_LOW_RAM
	bool own_dummy;             /* the board has none: dummy_key is it */
	uint8_t dummy_key[32];      /* for unknown client ids; from the DRBG */
#endif
	/* Counters, for tests and the harness: exchanges answered, requests
	 * dropped (deadline, malformed), MACs of the last request. */
	uint16_t answered, dropped;
	uint16_t last_macs;
};

/* Check the configuration and start waiting for a wake-up.  The crypto
 * backend's random source must be ready (Mbed TLS: siot_drbg_seed).
 * 0, or -EINVAL for a configuration this core cannot serve, -EIO without
 * random bytes. */
int siot_device_init(struct siot_device *d, const struct siot_dev_config *cfg,
		     const struct siot_dev_board *board);

/* Bytes received, at time now (ms, wrapping). */
void siot_device_input(struct siot_device *d, const uint8_t *buf, size_t len, uint32_t now);

/* Time passes: ends pulses and deadlines.  Call it often (every ms or so). */
void siot_device_tick(struct siot_device *d, uint32_t now);

/* A stream's (cfg->stream) connection events, at time now: a peer
 * connected (one at a time), or went away before the exchange was over
 * (its answer, if a pulse still runs, is not sent).  No-ops on a serial
 * line. */
void siot_device_connect(struct siot_device *d, uint32_t now);
void siot_device_disconnect(struct siot_device *d);

/* A stream's peer will send nothing more (TCP's FIN: it shut down its
 * sending side, and may still read): an exchange still waiting for the
 * wake-up or the request cannot complete, and is dropped and closed; one
 * whose answer waits for a pulse goes on.  A no-op on a serial line. */
void siot_device_input_end(struct siot_device *d);

#ifdef __cplusplus
}
#endif

#endif
