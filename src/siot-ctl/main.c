/* SPDX-License-Identifier: MIT */
/*
 * siot-ctl: send commands to a siot device, make keys, check the client
 * configuration.  See siot-ctl(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyfile.h"
#include "send.h"
#include "siot.h"
#include "target.h"

#ifndef SIOT_VERSION_STRING
#define SIOT_VERSION_STRING "unknown"
#endif

#define MAX_COMMANDS 64

static void usage(FILE *f)
{
	fputs("Usage: siot-ctl [-c FILE] [-t TARGET] [-H HOST] [-p PORT] [-U SOCKET] [-D DEVICE]\n"
	      "                [-i ID] [-k KEYFILE] [--protocol v1|classic] [--hash sha256|sha512]\n"
	      "                [--tag-length N] [--challenge-length N] [--wakeup-length N]\n"
	      "                [-T SECONDS] [--json] send COMMAND [COMMAND...]\n"
	      "       siot-ctl keygen [-o FILE]\n"
	      "       siot-ctl [-c FILE] check\n"
	      "\n"
	      "Exit status: 0 ok, 1 failed, 2 rejected, 3 busy, 4 timeout, 5 error (the device's\n"
	      "answer); 76 not authentic or wrong protocol/device, 69 could not connect,\n"
	      "75 network timeout, 64 usage, 78 configuration (or unsafe key file).\n",
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

/* ---- keygen --------------------------------------------------------------- */

static int keygen(const char *path)
{
	uint8_t key[SIOT_KEYGEN_LEN];
	char b64[sodium_base64_ENCODED_LEN(SIOT_KEYGEN_LEN, sodium_base64_VARIANT_ORIGINAL) + 1];
	size_t len;
	int fd, rc = 0;

	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(b64, sizeof(b64) - 1, key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	len = strlen(b64);
	b64[len++] = '\n';
	if (!path) {
		rc = fwrite(b64, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
		sodium_memzero(b64, sizeof(b64));
		return rc;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fprintf(stderr, "siot-ctl: %s: %s%s\n", path, strerror(errno),
			errno == EEXIST ? " (keygen never overwrites a key)" : "");
		sodium_memzero(b64, sizeof(b64));
		return EXIT_CANTCREAT;
	}
	if (fchmod(fd, 0600) < 0 || write(fd, b64, len) != (ssize_t)len || fsync(fd) < 0) {
		fprintf(stderr, "siot-ctl: writing %s: %s\n", path, strerror(errno));
		rc = EXIT_CANTCREAT;
	}
	close(fd);
	sodium_memzero(b64, sizeof(b64));
	if (rc)
		unlink(path);
	return rc;
}

/* ---- output --------------------------------------------------------------- */

static bool valid_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t extra;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			extra = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			extra = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			extra = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + extra >= n) /* truncated sequence */
			return false;
		for (size_t k = 1; k <= extra; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
		    (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += extra + 1;
	}
	return true;
}

static void json_string(FILE *f, const uint8_t *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

static void print_json(const struct send_outcome *o)
{
	printf("{\"command\":");
	json_string(stdout, (const uint8_t *)o->command, strlen(o->command));
	printf(",\"status\":\"%s\"", o->json_status);
	if (o->authentic) {
		printf(",\"result\":%u", o->result);
		if (o->output_len && valid_utf8(o->output, o->output_len)) {
			printf(",\"output\":");
			json_string(stdout, o->output, o->output_len);
		} else if (o->output_len) {
			char b64[sodium_base64_ENCODED_LEN(SIOT_MAX_OUTPUT,
							   sodium_base64_VARIANT_ORIGINAL)];
			sodium_bin2base64(b64, sizeof(b64), o->output, o->output_len,
					  sodium_base64_VARIANT_ORIGINAL);
			printf(",\"output_base64\":\"%s\"", b64);
		}
	}
	printf(",\"authentic\":%s", o->authentic ? "true" : "false");
	if (o->error[0]) {
		printf(",\"error\":");
		json_string(stdout, (const uint8_t *)o->error, strlen(o->error));
	}
	printf("}\n");
}

/* Output bytes as they are, or with control characters escaped on a tty. */
static void print_output(const uint8_t *s, size_t n)
{
	if (!isatty(1)) {
		fwrite(s, 1, n, stdout);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f))
			putchar(c);
		else
			printf("\\x%02x", c);
	}
}

static void print_human(const struct send_outcome *o)
{
	if (o->authentic && o->output_len)
		print_output(o->output, o->output_len);
	fflush(stdout);
	if (!o->sent && !o->error[0] && strcmp(o->json_status, "not-sent") == 0) {
		fprintf(stderr, "siot-ctl: %s: not sent\n", o->command);
	} else if (o->error[0] && !o->authentic) {
		fprintf(stderr, "siot-ctl: %s: %s\n", o->command, o->error);
	} else if (o->authentic && o->exit_code == 1) {
		fprintf(stderr, "siot-ctl: %s: failed (result %u)\n", o->command, o->result);
	} else if (o->authentic && o->exit_code != 0) {
		fprintf(stderr, "siot-ctl: %s: %s\n", o->command, o->json_status);
	}
}

/* ---- main ----------------------------------------------------------------- */

enum {
	OPT_PROTOCOL = 256,
	OPT_HASH,
	OPT_TAG,
	OPT_CHALLENGE,
	OPT_WAKEUP,
	OPT_JSON,
	OPT_VERSION,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "target", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 'U' },
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
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct target flags, t;
	const char *config_path = NULL, *target_name = NULL, *keygen_out = NULL, *sub;
	struct send_options so = { 0 };
	static struct send_outcome outcomes[MAX_COMMANDS];
	bool json = false, explicit_config;
	uint8_t *raw;
	struct siot_key *key;
	enum siot_profile profile = SIOT_PROFILE_V1;
	enum siot_hash hash = SIOT_HASH_SHA256;
	char key_path[4096], err[600];
	size_t raw_len = 0, n_cmds;
	int opt, r, port, code;
	char *end;

	target_clear(&flags);
	while ((opt = getopt_long(argc, argv, "c:t:H:p:U:D:i:k:o:T:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 't':
			target_name = optarg;
			break;
		case 'H':
			if (copy_arg(flags.host, sizeof(flags.host), optarg, "host"))
				return EXIT_USAGE;
			break;
		case 'p':
			if (parse_int(optarg, "port", 1, 65535, &port))
				return EXIT_USAGE;
			snprintf(flags.port, sizeof(flags.port), "%d", port);
			break;
		case 'U':
			if (copy_arg(flags.socket, sizeof(flags.socket), optarg, "socket path"))
				return EXIT_USAGE;
			break;
		case 'D':
			if (copy_arg(flags.device, sizeof(flags.device), optarg, "device id"))
				return EXIT_USAGE;
			break;
		case 'i':
			if (copy_arg(flags.id, sizeof(flags.id), optarg, "client id"))
				return EXIT_USAGE;
			break;
		case 'k':
			if (copy_arg(flags.key_file, sizeof(flags.key_file), optarg, "key file"))
				return EXIT_USAGE;
			break;
		case 'o':
			keygen_out = optarg;
			break;
		case OPT_PROTOCOL:
			if (copy_arg(flags.protocol, sizeof(flags.protocol), optarg, "protocol"))
				return EXIT_USAGE;
			break;
		case OPT_HASH:
			if (copy_arg(flags.hash, sizeof(flags.hash), optarg, "hash"))
				return EXIT_USAGE;
			break;
		case OPT_TAG:
			if (parse_int(optarg, "--tag-length", SIOT_MIN_TAG, SIOT_MAX_DIGEST,
				      &flags.tag_length))
				return EXIT_USAGE;
			break;
		case OPT_CHALLENGE:
			if (parse_int(optarg, "--challenge-length", SIOT_MIN_CHALLENGE,
				      SIOT_MAX_CHALLENGE, &flags.challenge_length))
				return EXIT_USAGE;
			break;
		case OPT_WAKEUP:
			if (parse_int(optarg, "--wakeup-length", 0, SIOT_MAX_WAKEUP,
				      &flags.wakeup_length))
				return EXIT_USAGE;
			break;
		case 'T':
			flags.timeout = strtod(optarg, &end);
			if (*end || !(flags.timeout > 0 && flags.timeout <= 86400)) {
				fprintf(stderr, "siot-ctl: -T takes seconds (more than 0), not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_VERSION:
			printf("siot-ctl %s\n", SIOT_VERSION_STRING);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	sub = argv[optind++];
	if (siot_init() < 0) {
		fprintf(stderr, "siot-ctl: libsodium cannot start\n");
		return 5;
	}

	if (!strcmp(sub, "keygen")) {
		if (optind < argc) {
			fprintf(stderr, "siot-ctl: keygen takes no arguments (use -o FILE)\n");
			return EXIT_USAGE;
		}
		return keygen(keygen_out);
	}
	if (keygen_out) {
		fprintf(stderr, "siot-ctl: -o is for keygen\n");
		return EXIT_USAGE;
	}

	explicit_config = config_path != NULL;
	if (!config_path)
		config_path = target_default_path();

	if (!strcmp(sub, "check")) {
		if (optind < argc) {
			fprintf(stderr, "siot-ctl: check takes no arguments\n");
			return EXIT_USAGE;
		}
		target_clear(&t);
		r = target_load(config_path, target_name, &t, cfg_print_problem, true);
		if (r == -ENOENT) {
			fprintf(stderr, "siot-ctl: %s: no such file\n", config_path);
			return EXIT_CONFIG;
		}
		if (r == -ESRCH) {
			fprintf(stderr, "siot-ctl: %s: no target named \"%s\"\n", config_path,
				target_name ? target_name : "?");
			return EXIT_CONFIG;
		}
		if (r < 0)
			return EXIT_CONFIG;
		printf("%s: OK\n", config_path);
		return 0;
	}

	if (strcmp(sub, "send")) {
		fprintf(stderr, "siot-ctl: unknown command '%s'\n", sub);
		usage(stderr);
		return EXIT_USAGE;
	}
	n_cmds = (size_t)(argc - optind);
	if (n_cmds == 0) {
		fprintf(stderr, "siot-ctl: send needs at least one command name\n");
		return EXIT_USAGE;
	}
	if (n_cmds > MAX_COMMANDS) {
		fprintf(stderr, "siot-ctl: at most %d commands at once\n", MAX_COMMANDS);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < n_cmds; i++) {
		const char *c = argv[optind + (int)i];
		if (!siot_valid_command(c, strlen(c))) {
			fprintf(stderr, "siot-ctl: \"%s\" is not a command name (1 to 64 of A-Z a-z 0-9 . _ -)\n", c);
			return EXIT_USAGE;
		}
	}

	/* The target: the config's (when there is one), then the flags on top. */
	target_clear(&t);
	r = target_load(config_path, target_name, &t, cfg_print_problem, false);
	if (r == -ENOENT && (explicit_config || target_name)) {
		fprintf(stderr, "siot-ctl: %s: no such file%s\n", config_path,
			target_name ? " (needed for -t)" : "");
		return EXIT_CONFIG;
	}
	if (r == -ESRCH) {
		fprintf(stderr, "siot-ctl: %s: no target named \"%s\"%s\n", config_path,
			target_name ? target_name : "?",
			target_name ? "" : " (set default, or give -t NAME)");
		return EXIT_CONFIG;
	}
	if (r < 0 && r != -ENOENT)
		return EXIT_CONFIG;
	target_merge(&t, &flags);

	if (t.protocol[0] && siot_profile_from_name(t.protocol, &profile) < 0) {
		fprintf(stderr, "siot-ctl: protocol must be v1 or classic, not '%s'\n", t.protocol);
		return EXIT_USAGE;
	}
	if (t.hash[0] && siot_hash_from_name(t.hash, &hash) < 0) {
		fprintf(stderr, "siot-ctl: hash must be sha256 or sha512, not '%s'\n", t.hash);
		return EXIT_USAGE;
	}
	if (!t.host[0] && !t.socket[0]) {
		fprintf(stderr, "siot-ctl: no device to talk to: give -t TARGET (from %s), "
				"-H HOST or -U SOCKET\n",
			config_path);
		return EXIT_USAGE;
	}
	if (profile == SIOT_PROFILE_V1 && !t.id[0]) {
		fprintf(stderr, "siot-ctl: no client id: give -i ID or set id in the target\n");
		return EXIT_USAGE;
	}
	if (t.id[0] && !siot_valid_id(t.id, strlen(t.id))) {
		fprintf(stderr, "siot-ctl: client id \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -\n", t.id);
		return EXIT_USAGE;
	}
	if (!t.key_file[0]) {
		fprintf(stderr, "siot-ctl: no key: give -k KEYFILE or set key_file in the target\n");
		return EXIT_USAGE;
	}
	if (profile == SIOT_PROFILE_CLASSIC && t.tag_length >= 0 &&
	    (size_t)t.tag_length != siot_digest_length(hash)) {
		fprintf(stderr, "siot-ctl: classic always uses the full digest; drop the tag length\n");
		return EXIT_USAGE;
	}
	if (siot_params_init(&so.params, profile, hash, t.tag_length < 0 ? 0 : (unsigned)t.tag_length,
			     t.challenge_length < 0 ? SIOT_DEFAULT_CHALLENGE : (unsigned)t.challenge_length,
			     t.wakeup_length < 0 ? 0 : (unsigned)t.wakeup_length) < 0) {
		fprintf(stderr, "siot-ctl: tag length %d does not fit hash %s (16 .. %zu)\n",
			t.tag_length, siot_hash_name(hash), siot_digest_length(hash));
		return EXIT_USAGE;
	}

	if (target_expand_home(t.key_file, key_path, sizeof(key_path)) < 0) {
		fprintf(stderr, "siot-ctl: key file path too long\n");
		return EXIT_CONFIG;
	}
	raw = sodium_malloc(SIOT_MAX_KEY);
	key = sodium_malloc(sizeof(*key));
	if (!raw || !key) {
		fprintf(stderr, "siot-ctl: cannot lock memory for the key\n");
		return 5;
	}
	if (keyfile_load(key_path, KEYFILE_CLIENT, raw, &raw_len, err, sizeof(err)) < 0) {
		fprintf(stderr, "siot-ctl: %s\n", err);
		sodium_free(raw);
		sodium_free(key);
		return EXIT_CONFIG;
	}
	siot_key_init(key, hash, raw, raw_len);
	sodium_free(raw); /* wipes */

	so.key = key;
	so.client_id = t.id;
	so.host = t.host[0] ? t.host : NULL;
	so.port = t.port[0] ? t.port : "7468";
	so.socket_path = t.socket[0] ? t.socket : NULL;
	so.device = t.device[0] ? t.device : NULL;
	so.timeout = t.timeout > 0 ? t.timeout : TARGET_DEFAULT_TIMEOUT;
	so.classic_response = t.classic_response != 0;

	code = send_commands(&so, (const char *const *)&argv[optind], n_cmds, outcomes);
	siot_key_wipe(key);
	sodium_free(key);
	for (size_t i = 0; i < n_cmds; i++) {
		if (json)
			print_json(&outcomes[i]);
		else
			print_human(&outcomes[i]);
	}
	fflush(stdout);
	return code;
}
