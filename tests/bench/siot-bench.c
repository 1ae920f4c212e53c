/* SPDX-License-Identifier: MIT */
/*
 * The benchmark's C parts (tests/bench/run drives them):
 *
 *   siot-bench bare-server PORT HELLO REQUEST RESPONSE
 *       A bare exchange server with no crypto: for each connection, send
 *       HELLO bytes, read REQUEST bytes, send RESPONSE bytes, read to EOF,
 *       close.  One connection at a time, blocking: the least a server of
 *       this exchange can do.  Prints "ready" when it listens.
 *   siot-bench bare-once PORT HELLO REQUEST RESPONSE
 *       One bare exchange as a whole process (the one-shot anchor: this
 *       program links only what libsiot needs, so its start-up stays small).
 *   siot-bench load siot PORT CLIENTS SECONDS KEYFILE CLIENT_ID COMMAND[,COMMAND...]
 *   siot-bench load bare PORT CLIENTS SECONDS HELLO REQUEST RESPONSE [THINK_US]
 *       CLIENTS threads, each doing whole exchanges (connect, HELLO, request,
 *       response, close) back to back for SECONDS; a siot exchange is
 *       verified with libsiot and must come back OK, or the run fails.
 *       Thread i sends the (i mod n)th of the commands given.  THINK_US
 *       paces a bare client like a siot one: it stays busy that long
 *       between the response and its close, where siot's client searches
 *       the 256 results.  (A server's CPU per request depends on the pace:
 *       a server that waits longer pays more to wake up.)
 *   siot-bench scan COMMANDS ITERATIONS
 *       siotd's candidate scan (siot_server_scan) over COMMANDS names.
 *
 * Results are printed as one line of key=value pairs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "keyfile.h"
#include "siot.h"

static double now_sec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int connect_loopback(unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- the bare exchange ---------------------------------------------------- */

/* Busy for usec microseconds (a sleep would be late by more than that). */
static void busy(double usec)
{
	double until = now_sec(CLOCK_MONOTONIC) + usec / 1e6;

	while (now_sec(CLOCK_MONOTONIC) < until)
		;
}

static int bare_exchange(unsigned port, const struct sizes *sz, double think_us)
{
	uint8_t buf[4096] = { 0 };
	int fd = connect_loopback(port);
	int r = -1;

	if (fd < 0)
		return -1;
	if (read_all(fd, buf, sz->hello) == 0 && write_all(fd, buf, sz->request) == 0 &&
	    read_all(fd, buf, sz->response) == 0)
		r = 0;
	if (think_us > 0)
		busy(think_us);
	close(fd);
	return r;
}

__attribute__((noreturn)) static void bare_server(unsigned port, const struct sizes *sz)
{
	struct timeval tv = { .tv_sec = 5 };
	uint8_t buf[4096] = { 0 };
	int lfd = listen_loopback(port);

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			continue;
		/* A stuck client cannot hold the server for more than 5 s. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (write_all(fd, buf, sz->hello) == 0 && read_all(fd, buf, sz->request) == 0 &&
		    write_all(fd, buf, sz->response) == 0)
			while (recv(fd, buf, sizeof(buf), 0) > 0)
				; /* until the client closes */
		close(fd);
	}
}

/* ---- a siot exchange with libsiot ----------------------------------------- */

struct siot_client {
	struct siot_params params;
	struct siot_key key;
	const char *client_id;
	const char *command; /* this thread's */
};

/* One whole exchange; the time spent verifying is added to *verify_sec. */
static int siot_exchange_once(unsigned port, const struct siot_client *cl, double *verify_sec)
{
	struct siot_exchange *ex = malloc(sizeof(*ex));
	uint8_t buf[SIOT_MAX_RESPONSE], req[SIOT_MAX_REQUEST];
	uint8_t result = 0xff;
	size_t used = 0;
	enum siot_feed f = SIOT_FEED_MORE;
	int fd = -1, r = -1, n;
	double t;

	if (!ex)
		return -1;
	siot_exchange_init(ex, &cl->params);
	if ((fd = connect_loopback(port)) < 0)
		goto out;
	while (f == SIOT_FEED_MORE) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got <= 0)
			goto out;
		f = siot_client_feed_hello(ex, buf, (size_t)got, &used);
	}
	if (f != SIOT_FEED_DONE)
		goto out;
	n = siot_client_request(ex, &cl->key, cl->client_id, cl->command, req, sizeof(req));
	if (n < 0 || write_all(fd, req, (size_t)n) < 0)
		goto out;
	f = SIOT_FEED_MORE;
	while (f == SIOT_FEED_MORE) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got <= 0)
			goto out;
		f = siot_client_feed_response(ex, buf, (size_t)got, &used);
	}
	if (f != SIOT_FEED_DONE)
		goto out;
	t = now_sec(CLOCK_THREAD_CPUTIME_ID);
	if (siot_client_verify(ex, &cl->key, &result, NULL, NULL) < 0)
		fprintf(stderr, "siot-bench: a response did not verify\n");
	else if (ex->status != SIOT_STATUS_OK)
		fprintf(stderr, "siot-bench: %s came back %s (result %u)\n", cl->command,
			siot_status_name(ex->status), result);
	else
		r = 0;
	*verify_sec += now_sec(CLOCK_THREAD_CPUTIME_ID) - t;
out:
	if (fd >= 0)
		close(fd);
	siot_exchange_wipe(ex);
	free(ex);
	return r;
}

/* ---- load ------------------------------------------------------------------ */

struct worker {
	pthread_t thread;
	bool siot;
	unsigned port;
	double until;
	const struct sizes *sz;
	double think_us;
	struct siot_client cl;
	double *lat;
	size_t n, cap;
	unsigned failures;
	double verify_sec;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	while (now_sec(CLOCK_MONOTONIC) < w->until) {
		double t0 = now_sec(CLOCK_MONOTONIC);
		int r = w->siot ? siot_exchange_once(w->port, &w->cl, &w->verify_sec)
				: bare_exchange(w->port, w->sz, w->think_us);

		if (r < 0) {
			/* Stop at the first failure: the run is reported as failed. */
			w->failures++;
			break;
		}
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 4096;
			double *lat = realloc(w->lat, cap * sizeof(*lat));
			if (!lat)
				die("out of memory");
			w->lat = lat;
			w->cap = cap;
		}
		w->lat[w->n++] = now_sec(CLOCK_MONOTONIC) - t0;
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The siot client of `load siot`: the key, the id and the commands
 * (COMMAND,COMMAND,...: thread i sends the (i mod n)th, so that concurrent
 * clients need not share one GPIO line).  Returns how many commands. */
static unsigned siot_client_setup(struct siot_client *cl, const char *key_file, const char *id,
				  char *list, char *commands[256])
{
	uint8_t key[SIOT_MAX_KEY];
	size_t key_len = 0;
	char err[512], *save = NULL;
	unsigned n = 0;

	if (siot_init() < 0)
		die("libsodium failed to initialise");
	if (keyfile_load(key_file, KEYFILE_CLIENT, key, &key_len, err, sizeof(err)) < 0)
		die("%s", err);
	siot_params_init(&cl->params, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 32, 32, 0);
	if (siot_key_init(&cl->key, SIOT_HASH_SHA256, key, key_len) < 0)
		die("bad key");
	sodium_memzero(key, sizeof(key));
	cl->client_id = id;
	for (char *t = strtok_r(list, ",", &save); t && n < 256; t = strtok_r(NULL, ",", &save))
		commands[n++] = t;
	if (n == 0)
		die("no command");
	return n;
}

/* The one result line of a load: counts, latency percentiles, CPU. */
static void report(struct worker *w, unsigned clients, double elapsed, unsigned failures)
{
	struct rusage ru;
	double verify = 0, *all, cpu;
	size_t total = 0;

	for (unsigned i = 0; i < clients; i++) {
		total += w[i].n;
		verify += w[i].verify_sec;
	}
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	if (total == 0)
		die("no exchange completed");
	all = malloc(total * sizeof(*all));
	if (!all)
		die("out of memory");
	for (unsigned i = 0, k = 0; i < clients; i++) {
		memcpy(all + k, w[i].lat, w[i].n * sizeof(*all));
		k += (unsigned)w[i].n;
		free(w[i].lat);
	}
	qsort(all, total, sizeof(*all), cmp_double);
	printf("exchanges=%zu failures=%u seconds=%.3f per_sec=%.1f p50_us=%.1f p99_us=%.1f "
	       "client_cpu_us=%.1f verify_cpu_us=%.1f\n",
	       total, failures, elapsed, (double)total / elapsed, all[total / 2] * 1e6,
	       all[(size_t)((double)total * 0.99)] * 1e6, cpu / (double)total * 1e6,
	       verify / (double)total * 1e6);
	free(all);
}

static int load(int argc, char **argv)
{
	struct sizes sz = { 0 };
	struct siot_client cl = { 0 };
	char *commands[256] = { 0 };
	unsigned n_commands = 0, port, clients, seconds, failures = 0;
	struct worker *w;
	double start, think_us = 0;
	bool siot;

	siot = argc >= 3 && strcmp(argv[2], "siot") == 0;
	if (argc != 9 && (siot || argc != 10))
		die("usage: load siot|bare PORT CLIENTS SECONDS "
		    "(KEYFILE ID COMMAND | HELLO REQ RESP [THINK_US])");
	port = parse_uint(argv[3], 65535);
	clients = parse_uint(argv[4], 256);
	seconds = parse_uint(argv[5], 3600);
	if (clients == 0 || seconds == 0)
		die("CLIENTS and SECONDS must be more than 0");
	if (siot)
		n_commands = siot_client_setup(&cl, argv[6], argv[7], argv[8], commands);
	else
		sz = (struct sizes){ parse_uint(argv[6], 4096), parse_uint(argv[7], 4096),
				     parse_uint(argv[8], 4096) };
	if (argc == 10)
		think_us = parse_uint(argv[9], 1000000);
	w = calloc(clients, sizeof(*w));
	if (!w)
		die("out of memory");
	start = now_sec(CLOCK_MONOTONIC);
	for (unsigned i = 0; i < clients; i++) {
		w[i] = (struct worker){ .siot = siot, .port = port, .until = start + seconds,
					.sz = &sz, .think_us = think_us, .cl = cl };
		if (siot)
			w[i].cl.command = commands[i % n_commands];
		if (pthread_create(&w[i].thread, NULL, work, &w[i]) != 0)
			die("cannot start a thread");
	}
	for (unsigned i = 0; i < clients; i++) {
		pthread_join(w[i].thread, NULL);
		failures += w[i].failures;
	}
	report(w, clients, now_sec(CLOCK_MONOTONIC) - start, failures);
	free(w);
	if (siot)
		siot_key_wipe(&cl.key);
	return failures ? 1 : 0;
}

/* ---- siotd's scan ------------------------------------------------------------ */

static int scan(int argc, char **argv)
{
	static const uint8_t key_bytes[32] = { 1, 2, 3 };
	struct siot_params p;
	struct siot_key key;
	struct siot_exchange *ex = malloc(sizeof(*ex));
	uint8_t req[SIOT_MAX_REQUEST];
	const char **names;
	char (*store)[24];
	unsigned n, iterations;
	size_t used, match = 0;
	double t0, t;
	int len;

	if (argc != 4 || !ex)
		die("usage: scan COMMANDS ITERATIONS");
	n = parse_uint(argv[2], 4096);
	iterations = parse_uint(argv[3], 10000000);
	if (n == 0 || iterations == 0)
		die("COMMANDS and ITERATIONS must be more than 0");
	if (siot_init() < 0)
		die("libsodium failed to initialise");
	names = calloc(n, sizeof(*names));
	store = calloc(n, sizeof(*store));
	if (!names || !store)
		die("out of memory");
	for (unsigned i = 0; i < n; i++) {
		snprintf(store[i], sizeof(store[i]), "command-%u", i);
		names[i] = store[i];
	}
	siot_params_init(&p, SIOT_PROFILE_V1, SIOT_HASH_SHA256, 32, 32, 0);
	siot_key_init(&key, SIOT_HASH_SHA256, key_bytes, sizeof(key_bytes));
	/* A request for the last command, built by a client exchange on the
	 * server's HELLO. */
	{
		struct siot_exchange *cx = malloc(sizeof(*cx));
		if (!cx)
			die("out of memory");
		siot_exchange_init(ex, &p);
		siot_server_hello(ex, "bench", NULL);
		siot_exchange_init(cx, &p);
		siot_client_feed_hello(cx, ex->hello, ex->hello_len, &used);
		len = siot_client_request(cx, &key, "bench", names[n - 1], req, sizeof(req));
		free(cx);
	}
	if (len < 0 || siot_server_feed(ex, req, (size_t)len, &used) != SIOT_FEED_DONE)
		die("cannot build a request");
	t0 = now_sec(CLOCK_PROCESS_CPUTIME_ID);
	for (unsigned i = 0; i < iterations; i++)
		if (siot_server_scan(ex, &key, names, n, &match) != 1 || match != n - 1)
			die("the scan did not find its command");
	t = now_sec(CLOCK_PROCESS_CPUTIME_ID) - t0;
	printf("commands=%u iterations=%u scan_us=%.2f per_candidate_us=%.3f\n", n, iterations,
	       t / iterations * 1e6, t / iterations / n * 1e6);
	siot_key_wipe(&key);
	free(names);
	free(store);
	free(ex);
	return 0;
}

int main(int argc, char **argv)
{
	struct sizes sz;

	if (argc >= 2 && strcmp(argv[1], "load") == 0)
		return load(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "scan") == 0)
		return scan(argc, argv);
	if (argc == 6 && (strcmp(argv[1], "bare-server") == 0 || strcmp(argv[1], "bare-once") == 0)) {
		unsigned port = parse_uint(argv[2], 65535);

		sz = (struct sizes){ parse_uint(argv[3], 4096), parse_uint(argv[4], 4096),
				     parse_uint(argv[5], 4096) };
		if (strcmp(argv[1], "bare-server") == 0)
			bare_server(port, &sz);
		return bare_exchange(port, &sz, 0) < 0 ? 1 : 0;
	}
	fprintf(stderr, "usage: siot-bench bare-server|bare-once|load|scan ... (see its source)\n");
	return 64;
}
