/* SPDX-License-Identifier: MIT */
/*
 * siotd: its options, then the daemon's life (daemon.c) around the event
 * loop.  Always in the foreground; systemd-style.  See siotd(8).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "check_config.h"
#include "daemon.h"
#include "siot.h"

#ifndef SIOT_VERSION_STRING
#define SIOT_VERSION_STRING "unknown"
#endif

struct options {
	const char *config_path;
	const char *listen[LISTEN_MAX_FDS];
	size_t n_listen;
	bool check_only, debug;
	const char *user; /* --user: whose access --check-config checks */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: siotd [-c FILE] [--listen ADDRESS]... [--check-config [--user USER]] [-d]\n"
		"             [--version] [--help]\n"
		"\n"
		"  -c, --config FILE    configuration file (default %s)\n"
		"  -l, --listen ADDR    listen on PORT, ADDRESS:PORT, HOST:PORT, [IPV6]:PORT or a\n"
		"                       Unix socket path, when systemd passes no socket\n"
		"                       (repeatable; default: the config's 'listen', else %s)\n"
		"      --check-config   check the configuration, print every problem, exit 0 or 1\n"
		"      --user USER      with --check-config as root: check the keys as USER\n"
		"                       would read them (default " CHECK_SERVICE_USER ")\n"
		"  -d, --debug          log debug messages\n"
		"      --version        print the version\n"
		"  -h, --help           this help\n",
		CONFIG_DEFAULT_PATH, CONFIG_DEFAULT_LISTEN);
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "user", required_argument, NULL, 'u' },
		{ "debug", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct options){ .config_path = CONFIG_DEFAULT_PATH };
	while ((opt = getopt_long(argc, argv, "c:l:dh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o->config_path = optarg;
			break;
		case 'l':
			if (o->n_listen == LISTEN_MAX_FDS) {
				fprintf(stderr, "siotd: at most %d --listen addresses\n", LISTEN_MAX_FDS);
				return 64;
			}
			o->listen[o->n_listen++] = optarg;
			break;
		case 'C':
			o->check_only = true;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'V':
			printf("siotd %s\n", SIOT_VERSION_STRING);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (o->user && !o->check_only) {
		fprintf(stderr, "siotd: --user goes with --check-config (the unit's User= is who "
				"siotd runs as)\n");
		return 64;
	}
	if (optind < argc) {
		fprintf(stderr, "siotd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 64;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct options o;
	struct daemon d;
	int r = parse_options(argc, argv, &o);

	if (r >= 0)
		return r;
	if (siot_init() < 0) {
		fprintf(stderr, "siotd: libsodium cannot start\n");
		return 1;
	}
	if (o.check_only)
		return check_config(o.config_path, o.user);

	r = daemon_init(&d, &(struct daemon_settings){ .config_path = o.config_path,
						       .listen = o.listen,
						       .n_listen = o.n_listen,
						       .debug = o.debug });
	if (r < 0) {
		daemon_finish(&d);
		return 1;
	}
	daemon_ready(&d, SIOT_VERSION_STRING);
	r = sd_event_loop(d.event);
	daemon_finish(&d);
	log_info("stopped");
	return r < 0 ? 1 : 0;
}
