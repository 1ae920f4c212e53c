/* SPDX-License-Identifier: MIT */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"
#include "send.h"
#include "serial.h"

#ifndef SIOT_VERSION_STRING
#define SIOT_VERSION_STRING "unknown"
#endif

enum {
	OPT_PROTOCOL = 256,
	OPT_HASH,
	OPT_TAG,
	OPT_CHALLENGE,
	OPT_WAKEUP,
	OPT_JSON,
	OPT_VERSION,
	OPT_FORCE,
	OPT_NEW_KEY,
	OPT_VALUE,
	OPT_PARALLEL,
	OPT_MQTT_USER,
	OPT_MQTT_PASSWORD_FILE,
	OPT_MQTT_CA_FILE,
	OPT_MQTT_PREFIX,
	OPT_BAUD,
	OPT_FRAMING,
};

static void usage(FILE *f)
{
	char path[TARGET_PATH_MAX];

	fputs("Usage: siot-ctl [OPTIONS] send COMMAND [COMMAND...]\n"
	      "       siot-ctl keygen [-o FILE]\n"
	      "       siot-ctl fingerprint -k FILE\n"
	      "       siot-ctl enroll NAME -H HOST[:PORT] -i ID [-D DEVICE] [--force] [--new-key]\n"
	      "       siot-ctl [-c FILE] check\n"
	      "\n"
	      "Options:\n"
	      "  -c, --config FILE         client configuration with targets (see below)\n"
	      "  -t, --target NAME         use this target (or group) of the configuration\n"
	      "  -H, --host HOST[:PORT]    the device: HOST, HOST:PORT, [IPV6] or [IPV6]:PORT\n"
	      "  -p, --port PORT           its TCP port (default 7468)\n"
	      "  -U, --socket PATH         a Unix socket instead of a host\n"
	      "  -M, --mqtt URL            through an MQTT broker: mqtt://HOST[:PORT] or mqtts://\n"
	      "                            (needs -D DEVICE)\n"
	      "      --mqtt-user NAME      the broker's user name\n"
	      "      --mqtt-password-file FILE  the broker password (0600)\n"
	      "      --mqtt-ca-file FILE   mqtts: the CA certificates to trust\n"
	      "      --mqtt-prefix PREFIX  the topics' prefix (default siot)\n"
	      "  -S, --serial DEVICE       a serial port (a board's UART), e.g. /dev/ttyUSB0\n"
	      "      --baud N              its speed (default 115200)\n"
	      "      --framing serial      TCP bridged to a serial line: a wake-up per exchange\n"
	      "  -D, --device ID           refuse a device whose id is not ID\n"
	      "  -i, --id ID               this client's id on the device\n"
	      "  -k, --key FILE            this client's key file (0600)\n"
	      "      --protocol v1|classic the device's protocol (default v1)\n"
	      "      --hash sha256|sha512  the device's hash (default sha256)\n"
	      "      --tag-length N        the device's tag length (default: the digest's)\n"
	      "      --challenge-length N  the device's challenge length (default 32)\n"
	      "      --wakeup-length N     bytes sent first to wake the device (default 0;\n"
	      "                            4 with -S or --framing serial)\n"
	      "  -T, --timeout SECONDS     bound on the whole exchange (default 30)\n"
	      "      --json                one JSON object per command on stdout\n"
	      "      --value               each command's result byte is a value (a pin read on a\n"
	      "                            device without output): print it as its output\n"
	      "      --parallel N          a group: at most N devices at once (default 64)\n"
	      "  -q, --quiet               only what failed (a group: only its failed devices)\n"
	      "  -v, --verbose             a status line for commands that went well too\n"
	      "  -o, --output FILE         keygen: write the key to FILE\n"
	      "      --force               enroll: replace a target of that name, in place\n"
	      "      --new-key             enroll: a new key even for a target that has one\n"
	      "      --version             print the version\n"
	      "  -h, --help                print this help\n"
	      "\n"
	      "Targets: ",
	      f);
	fprintf(f, "%s (or -c FILE) may declare\n", target_default_path(path));
	fputs("  default = \"garage\";\n"
	      "  targets = ( { name = \"garage\"; host = \"garage.local\"; id = \"alice\";\n"
	      "                key_file = \"~/.config/siot/garage-alice.key\"; } );\n"
	      "  groups = ( { name = \"all\"; targets = [ \"garage\", \"cabin\" ]; } );\n"
	      "so that 'siot-ctl send garage-open' or 'siot-ctl -t garage send ...' is enough;\n"
	      "'siot-ctl -t all send ...' sends to every target of the group, with one line per\n"
	      "device and the worst status; a group may name groups and patterns, and\n"
	      "-t 'cabin-*' sends to every target whose name matches; 'siot-ctl check'\n"
	      "lists them.  See siot-ctl(1).\n"
	      "\n"
	      "Exit status: 0 ok, 1 failed, 2 rejected, 3 busy, 4 timeout, 5 error (the device's\n"
	      "answer); 76 not authentic or wrong protocol/device, 69 could not connect,\n"
	      "75 network timeout, 64 usage, 73 keygen could not create the file,\n"
	      "78 configuration (or unsafe key file).\n",
	      f);
}

static int parse_int(const char *s, const char *what, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end || v < min || v > max) {
		fprintf(stderr, "siot-ctl: %s must be an integer from %d to %d, not '%s'\n", what,
			min, max, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int copy_arg(char *dst, size_t n, const char *src, const char *what)
{
	if (strlen(src) >= n) {
		fprintf(stderr, "siot-ctl: %s is too long\n", what);
		return -1;
	}
	strcpy(dst, src);
	return 0;
}

/* Options that copy their argument into one of the target's strings. */
#define STRING_OPT(o, f, w) { o, offsetof(struct target, f), sizeof(((struct target *)0)->f), w }
static const struct {
	int opt;
	size_t off, size;
	const char *what;
} string_opts[] = {
	STRING_OPT('U', socket, "socket path"),
	STRING_OPT('M', mqtt, "broker URL"),
	STRING_OPT(OPT_MQTT_USER, mqtt_username, "MQTT user name"),
	STRING_OPT(OPT_MQTT_PASSWORD_FILE, mqtt_password_file, "MQTT password file"),
	STRING_OPT(OPT_MQTT_CA_FILE, mqtt_ca_file, "MQTT CA file"),
	STRING_OPT(OPT_MQTT_PREFIX, mqtt_prefix, "MQTT prefix"),
	STRING_OPT('S', serial, "serial port"),
	STRING_OPT('D', device, "device id"),
	STRING_OPT('i', id, "client id"),
	STRING_OPT('k', key_file, "key file"),
	STRING_OPT(OPT_PROTOCOL, protocol, "protocol"),
	STRING_OPT(OPT_HASH, hash, "hash"),
};

/* -H HOST[:PORT] and -p PORT (given once). */
static int take_address(struct options *o, int opt, const char *arg)
{
	struct target *t = &o->flags;
	char p[8], err[400];
	int port;

	if (opt == 'p') {
		if (parse_int(arg, "port", 1, 65535, &port))
			return -1;
		snprintf(t->port, sizeof(t->port), "%d", port);
		o->port_flag = true;
	} else if (hostport_split(arg, t->host, sizeof(t->host), p, sizeof(p), err,
				  sizeof(err)) < 0) {
		fprintf(stderr, "siot-ctl: -H %s (HOST, HOST:PORT, [IPV6] or [IPV6]:PORT)\n", err);
		return -1;
	} else if (p[0]) {
		snprintf(t->port, sizeof(t->port), "%s", p);
		o->port_in_host = true;
	}
	if (o->port_in_host && o->port_flag) {
		fprintf(stderr, "siot-ctl: give the port once: -H HOST:PORT, or -H HOST -p PORT\n");
		return -1;
	}
	return 0;
}

/* The options with a number, or a word from a set, as their argument. */
static int take_value(struct target *t, int opt, const char *arg)
{
	char *end;

	switch (opt) {
	case OPT_BAUD:
		if (parse_int(arg, "--baud", 300, 4000000, &t->baud) < 0)
			return -1;
		if (!serial_speed_known((unsigned)t->baud)) {
			fprintf(stderr, "siot-ctl: --baud %s: not a speed a serial port takes (%s)\n",
				arg, SERIAL_SPEEDS_TEXT);
			return -1;
		}
		return 0;
	case OPT_FRAMING:
		if (strcmp(arg, "serial") != 0 && strcmp(arg, "stream") != 0) {
			fprintf(stderr, "siot-ctl: --framing takes serial or stream, not '%s'\n", arg);
			return -1;
		}
		return copy_arg(t->framing, sizeof(t->framing), arg, "framing");
	case OPT_TAG:
		return parse_int(arg, "--tag-length", SIOT_MIN_TAG, SIOT_MAX_DIGEST, &t->tag_length);
	case OPT_CHALLENGE:
		return parse_int(arg, "--challenge-length", SIOT_MIN_CHALLENGE, SIOT_MAX_CHALLENGE,
				 &t->challenge_length);
	case OPT_WAKEUP:
		return parse_int(arg, "--wakeup-length", 0, SIOT_MAX_WAKEUP, &t->wakeup_length);
	case 'T':
		t->timeout = strtod(arg, &end);
		if (*end || !(t->timeout > 0 && t->timeout <= 86400)) {
			fprintf(stderr, "siot-ctl: -T takes seconds (more than 0), not '%s'\n", arg);
			return -1;
		}
		return 0;
	}
	fprintf(stderr, "Try 'siot-ctl --help'.\n");
	return -1;
}

/* One option into o; 0, or -1 after a message. */
static int take(struct options *o, int opt, const char *arg)
{
	for (size_t i = 0; i < sizeof(string_opts) / sizeof(string_opts[0]); i++)
		if (string_opts[i].opt == opt)
			return copy_arg((char *)&o->flags + string_opts[i].off, string_opts[i].size,
					arg, string_opts[i].what);
	switch (opt) {
	case 'c':
		o->config_path = arg;
		return 0;
	case 't':
		o->target_name = arg;
		return 0;
	case 'o':
		o->keygen_out = arg;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	case OPT_FORCE:
		o->force = true;
		return 0;
	case OPT_NEW_KEY:
		o->new_key = true;
		return 0;
	case OPT_VALUE: /* every command's result byte is its value */
		snprintf(o->flags.values, sizeof(o->flags.values), "*");
		return 0;
	case OPT_PARALLEL:
		return parse_int(arg, "--parallel", 1, OPTIONS_MAX_PARALLEL, &o->parallel);
	case 'H':
	case 'p':
		return take_address(o, opt, arg);
	}
	return take_value(&o->flags, opt, arg);
}

/* A subcommand that takes no arguments: -1 to go on, or 64 after a message. */
static int no_arguments(struct options *o, enum subcommand sub, bool extra, const char *name,
			const char *hint)
{
	o->sub = sub;
	if (!extra)
		return -1;
	fprintf(stderr, "siot-ctl: %s takes no arguments%s\n", name, hint);
	return EXIT_USAGE;
}

/* The subcommand and its arguments. */
static int subcommand(int argc, char **argv, struct options *o)
{
	const char *sub = argv[optind++];

	if (!strcmp(sub, "keygen"))
		return no_arguments(o, SUB_KEYGEN, optind < argc, "keygen", " (use -o FILE)");
	if (o->keygen_out) {
		fprintf(stderr, "siot-ctl: -o is for keygen\n");
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "enroll")) {
		o->sub = SUB_ENROLL;
		if (optind + 1 != argc) {
			fprintf(stderr, "siot-ctl: enroll takes one NAME (siot-ctl enroll NAME -H HOST "
					"-i ID)\n");
			return EXIT_USAGE;
		}
		o->enroll_name = argv[optind];
		return -1;
	}
	if (o->force || o->new_key) {
		fprintf(stderr, "siot-ctl: %s is for enroll\n", o->force ? "--force" : "--new-key");
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "fingerprint"))
		return no_arguments(o, SUB_FINGERPRINT, optind < argc, "fingerprint", " (use -k FILE)");
	if (!strcmp(sub, "check"))
		return no_arguments(o, SUB_CHECK, optind < argc, "check", "");
	if (strcmp(sub, "send")) {
		fprintf(stderr, "siot-ctl: unknown command '%s' (send, keygen, fingerprint, enroll or "
				"check)\n"
				"Try 'siot-ctl --help'.\n",
			sub);
		return EXIT_USAGE;
	}
	o->sub = SUB_SEND;
	o->commands = (const char *const *)&argv[optind];
	o->n_commands = (size_t)(argc - optind);
	if (o->n_commands == 0) {
		fprintf(stderr, "siot-ctl: send needs at least one command name\n");
		return EXIT_USAGE;
	}
	if (o->n_commands > OPTIONS_MAX_COMMANDS) {
		fprintf(stderr, "siot-ctl: at most %d commands at once\n", OPTIONS_MAX_COMMANDS);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < o->n_commands; i++) {
		const char *c = o->commands[i];
		if (!siot_valid_command(c, strlen(c))) {
			fprintf(stderr,
				"siot-ctl: \"%s\" is not a command name (1 to 64 of A-Z a-z 0-9 . _ -)\n",
				c);
			return EXIT_USAGE;
		}
	}
	return -1;
}

int options_parse(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "target", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 'U' },
		{ "mqtt", required_argument, NULL, 'M' },
		{ "mqtt-user", required_argument, NULL, OPT_MQTT_USER },
		{ "mqtt-password-file", required_argument, NULL, OPT_MQTT_PASSWORD_FILE },
		{ "mqtt-ca-file", required_argument, NULL, OPT_MQTT_CA_FILE },
		{ "mqtt-prefix", required_argument, NULL, OPT_MQTT_PREFIX },
		{ "serial", required_argument, NULL, 'S' },
		{ "baud", required_argument, NULL, OPT_BAUD },
		{ "framing", required_argument, NULL, OPT_FRAMING },
		{ "device", required_argument, NULL, 'D' },
		{ "id", required_argument, NULL, 'i' },
		{ "key", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "protocol", required_argument, NULL, OPT_PROTOCOL },
		{ "hash", required_argument, NULL, OPT_HASH },
		{ "tag-length", required_argument, NULL, OPT_TAG },
		{ "challenge-length", required_argument, NULL, OPT_CHALLENGE },
		{ "wakeup-length", required_argument, NULL, OPT_WAKEUP },
		{ "timeout", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "new-key", no_argument, NULL, OPT_NEW_KEY },
		{ "value", no_argument, NULL, OPT_VALUE },
		{ "parallel", required_argument, NULL, OPT_PARALLEL },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct options){ 0 };
	o->parallel = OPTIONS_DEFAULT_PARALLEL;
	target_clear(&o->flags);
	while ((opt = getopt_long(argc, argv, "c:t:H:p:U:M:S:D:i:k:o:T:vqh", opts, NULL)) != -1) {
		if (opt == OPT_VERSION) {
			printf("siot-ctl %s\n", SIOT_VERSION_STRING);
			return 0;
		}
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (take(o, opt, optarg) < 0)
			return EXIT_USAGE;
	}
	if (optind >= argc) {
		fprintf(stderr, "siot-ctl: nothing to do: give send, keygen, fingerprint, enroll or "
				"check\n"
				"Try 'siot-ctl --help'.\n");
		return EXIT_USAGE;
	}
	if (o->quiet && o->verbose) {
		fprintf(stderr, "siot-ctl: -q and -v ask for less and for more: give one\n");
		return EXIT_USAGE;
	}
	o->path = o->config_path ? o->config_path : target_default_path(o->default_path);
	return subcommand(argc, argv, o);
}
