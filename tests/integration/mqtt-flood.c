/* SPDX-License-Identifier: MIT */
/*
 * A flood through a broker, for test_mqtt's limits tests: messages to
 * PREFIX/DEVICE/in at a given rate for a given time, then the rate it
 * really sent, on standard output:
 *
 *   mqtt-flood PORT DEVICE KIND RATE SECONDS
 *   sent N messages in S s: R a second
 *
 * KIND says what each message is (siot-protocol(7), MQTT):
 *   open        a session opened and left: empty, with its own Response
 *               Topic and Correlation Data (costs the device a HELLO)
 *   garbage     a session opened, then one byte as its request (two
 *               messages a session; RATE counts sessions)
 *   wrong-topic a request whose Response Topic is not its session's
 *   no-ids      a request without Correlation Data
 *   oversize    a payload larger than any request
 * The last three are dropped by the device before any MAC.  QoS 0, on
 * 127.0.0.1; the loop is bounded by SECONDS.  "Sent" counts what left
 * libmosquitto's queue for the broker's socket, timed until the last did.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t, .tv_nsec = (long)((t - (double)(time_t)t) * 1e9) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* One message: payload and the session's ids as KIND wants them. */
static int publish(struct mosquitto *m, const char *device, const char *kind, const uint8_t *pay,
		   int len, bool ids, bool right_topic, const uint8_t corr[16])
{
	mosquitto_property *props = NULL;
	char in[160], out[200];
	int rc;

	snprintf(in, sizeof(in), "siot/%s/in", device);
	snprintf(out, sizeof(out), "siot/%s/out/", device);
	for (int i = 0; i < 16; i++)
		snprintf(out + strlen(out), 3, "%02x", corr[i]);
	if (!right_topic)
		snprintf(out, sizeof(out), "siot/%s/out/elsewhere", device);
	if (ids) {
		mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, corr, 16);
		mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, out);
	}
	rc = mosquitto_publish_v5(m, NULL, in, len, pay, 0, false, props);
	mosquitto_property_free_all(&props);
	(void)kind;
	return rc;
}

int main(int argc, char **argv)
{
	static uint8_t big[2048];
	struct mosquitto *m;
	const char *device, *kind;
	double rate, seconds, start, end;
	unsigned long sent = 0;
	int port;

	if (argc != 6) {
		fprintf(stderr, "usage: mqtt-flood PORT DEVICE open|garbage|wrong-topic|no-ids|oversize "
				"RATE SECONDS\n");
		return 2;
	}
	port = atoi(argv[1]);
	device = argv[2];
	kind = argv[3];
	rate = atof(argv[4]);
	seconds = atof(argv[5]);
	if (rate <= 0 || seconds <= 0 || seconds > 60)
		return 2;
	mosquitto_lib_init();
	m = mosquitto_new(NULL, true, NULL);
	if (!m)
		return 1;
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 65535);
	if (mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
	    mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "mqtt-flood: cannot connect to 127.0.0.1:%d\n", port);
		return 1;
	}
	start = now_s();
	end = start + seconds;
	for (unsigned long i = 0;; i++) {
		double due = start + (double)i / rate;
		uint8_t corr[16], one = 0x01;
		int rc = MOSQ_ERR_SUCCESS;

		if (due >= end)
			break;
		sleep_until(due);
		for (int k = 0; k < 16; k++)
			corr[k] = (uint8_t)random();
		if (strcmp(kind, "open") == 0) {
			rc = publish(m, device, kind, NULL, 0, true, true, corr);
		} else if (strcmp(kind, "garbage") == 0) {
			rc = publish(m, device, kind, NULL, 0, true, true, corr);
			if (rc == MOSQ_ERR_SUCCESS) {
				sent++;
				rc = publish(m, device, kind, &one, 1, true, true, corr);
			}
		} else if (strcmp(kind, "wrong-topic") == 0) {
			rc = publish(m, device, kind, &one, 1, true, false, corr);
		} else if (strcmp(kind, "no-ids") == 0) {
			rc = publish(m, device, kind, &one, 1, false, true, corr);
		} else if (strcmp(kind, "oversize") == 0) {
			rc = publish(m, device, kind, big, (int)sizeof(big), true, true, corr);
		} else {
			fprintf(stderr, "mqtt-flood: unknown kind %s\n", kind);
			return 2;
		}
		if (rc == MOSQ_ERR_SUCCESS)
			sent++;
	}
	/* Sent means written to the broker's socket: wait until libmosquitto's
	 * queue is out (at most 5 s more), and count the time it took. */
	for (int i = 0; i < 500 && mosquitto_want_write(m); i++)
		sleep_until(now_s() + 0.01);
	end = now_s();
	if (mosquitto_want_write(m)) {
		fprintf(stderr, "mqtt-flood: the broker did not take everything\n");
		return 1;
	}
	mosquitto_disconnect(m);
	mosquitto_loop_stop(m, false);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	printf("sent %lu messages in %.2f s: %.0f a second\n", sent, end - start,
	       (double)sent / (end - start));
	return 0;
}
