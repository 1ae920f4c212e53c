/* SPDX-License-Identifier: MIT */
/*
 * Sending commands to a device: connect (TCP through getaddrinfo, every
 * address tried, a Unix socket, or a serial port), read the HELLO, check
 * it, send the request, read and verify the response.  Never resends a
 * request.  With serial framing (PROTOCOL.md, "Serial lines") every
 * exchange starts with a wake-up, resent every 250 ms until the HELLO
 * begins.
 */
#ifndef SIOT_CTL_SEND_H
#define SIOT_CTL_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siot.h"

/* Exit statuses of siot-ctl(1) beyond the device's status bytes 0..5. */
enum {
	EXIT_USAGE = 64,
	EXIT_UNREACHABLE = 69,
	EXIT_CANTCREAT = 73,
	EXIT_NETTIMEOUT = 75,
	EXIT_PROTOCOL = 76,
	EXIT_CONFIG = 78,
};

struct ctl_broker;

struct send_options {
	struct siot_params params;
	const struct siot_key *key;
	const char *client_id;
	const char *host, *port;  /* TCP */
	const char *socket_path;  /* or Unix */
	const char *serial_path;  /* or a serial port, at baud */
	unsigned baud;
	bool serial_framing;      /* a wake-up per exchange, resent until a HELLO
				   * comes (serial ports, and TCP bridged to one) */
	/* or an MQTT broker (device is then required): */
	const char *mqtt_url;
	char mqtt_host[256];      /* from the URL: the options hold their own */
	int mqtt_port;
	bool mqtt_tls;
	const char *mqtt_prefix;
	const char *mqtt_username, *mqtt_password; /* the password as read from its file */
	const char *mqtt_ca_file, *mqtt_cert_file, *mqtt_key_file;
	const char *device;       /* required device id, or NULL */
	struct ctl_broker *broker; /* a connection to share (a group's), or NULL */
	double timeout;           /* seconds for everything */
	bool classic_response;    /* classic: wait for the response digest */
};

/* What became of one command: the device's status (OK .. ERROR, the values
 * of enum siot_status), or NOT_SENT. */
enum outcome {
	OUTCOME_OK = SIOT_STATUS_OK,
	OUTCOME_FAILED = SIOT_STATUS_FAILED,
	OUTCOME_REJECTED = SIOT_STATUS_REJECTED,
	OUTCOME_BUSY = SIOT_STATUS_BUSY,
	OUTCOME_TIMEOUT = SIOT_STATUS_TIMEOUT,
	OUTCOME_ERROR = SIOT_STATUS_ERROR,
	OUTCOME_NOT_SENT,
};

/* Its name in --json and messages: ok, failed, rejected, busy, timeout,
 * error, not-sent. */
const char *outcome_name(enum outcome o);

/* What became of one command. */
struct send_outcome {
	const char *command;
	bool sent;                 /* the request left this host */
	bool authentic;            /* the response verified */
	unsigned status;           /* device status (valid when authentic) */
	uint8_t result;
	uint8_t output[SIOT_MAX_OUTPUT];
	size_t output_len;
	int exit_code;             /* this command's exit status */
	char error[512];           /* what went wrong, when not a device status */
	enum outcome outcome;
};

/* Send commands[0..n) in order over as few connections as the device allows,
 * stopping at the first that is not OK (the rest: not sent).  Fills out[i]
 * for every command; returns the exit status of siot-ctl. */
int send_commands(const struct send_options *o, const char *const *commands, size_t n,
		  struct send_outcome *out);

#endif
