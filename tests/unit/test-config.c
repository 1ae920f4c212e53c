/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of siotd's configuration: config_load (parse and validate) and
 * config_resolve (keys, lines, programs), through config_load_and_resolve on
 * files in a temporary folder.  Each case names the problems it must get,
 * as "LINE: words in the message", and gets no others.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "usec.h"
#include "check-run.h"

static char dir[64];
static char got[16][512];
static unsigned n_got;

static void collect(void *userdata, const char *file, int line, const char *msg)
{
	(void)userdata;
	(void)file;
	if (n_got < 16)
		snprintf(got[n_got], sizeof(got[0]), "%d: %s", line, msg);
	n_got++;
}

static void setup(void)
{
	char path[128];
	FILE *f;

	ck_assert_int_ge(siot_init(), 0);
	strcpy(dir, "/tmp/siot-config-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.key", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", f);
	fclose(f);
	chmod(path, 0600);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Load text; returns the config (NULL on problems), problems in got[]. */
static struct config *load(const char *text)
{
	char path[128];
	struct config *c = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/siot.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	n_got = 0;
	config_load_and_resolve(path, &c, collect, NULL);
	return c;
}

/* Every wanted problem ("LINE: words") was reported, and nothing else. */
static void expect(const char *const *want)
{
	unsigned n = 0;

	for (; want[n]; n++) {
		bool found = false;
		int line = atoi(want[n]);
		const char *words = strchr(want[n], ':') + 2;

		for (unsigned i = 0; i < n_got && i < 16 && !found; i++)
			found = atoi(got[i]) == line && strstr(got[i], words);
		ck_assert_msg(found, "wanted \"%s\"; got %u problem(s), first \"%s\"", want[n],
			      n_got, n_got ? got[0] : "");
	}
	ck_assert_msg(n_got == n, "%u problem(s), wanted %u; first \"%s\"", n_got, n,
		      n_got ? got[0] : "");
}

#define CLIENT "clients = ( { id = \"a\"; key_file = \"a.key\"; } );\n"

START_TEST(valid_config_and_defaults)
{
	struct config *c = load(CLIENT "commands = ( { name = \"t\"; exec = [ \"/bin/true\" ]; } );\n");

	expect((const char *const[]){ NULL });
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->timeout_usec, 5 * USEC_PER_SEC);
	ck_assert_uint_eq(c->commands[0].timeout_usec, 30 * USEC_PER_SEC);
	ck_assert_uint_eq(c->max_requests, 1);
	ck_assert_ptr_nonnull(c->clients[0].keys[0].key);
	ck_assert_ptr_nonnull(c->dummy_key);
	ck_assert(c->clients[0].may_run[0]);
	config_unref(c);
}
END_TEST

/* Durations below the documented minimums are refused (1e-300 passed once). */
START_TEST(durations_below_minimums)
{
	struct config *c = load("timeout = 1e-300;\n"                                  /* 1 */
				"backoff = { base = 0.0; };\n"                         /* 2 */
				"lines = ( { name = \"l\"; chip = \"sim\"; line = 1; direction = \"output\"; } );\n"
				"commands = (\n"                                        /* 4 */
				"  { name = \"p\"; gpio = { line = \"l\"; action = \"pulse\"; value = 1; duration = 0.0005; }; },\n"
				"  { name = \"t\"; exec = [ \"/bin/true\" ]; timeout = 0.05; }\n" /* 6 */
				");\n");

	expect((const char *const[]){ "1: timeout = 1e-300 is out of range (0.1 .. 3600",
				      "2: base = 0 is out of range (0.001 .. 86400",
				      "5: duration = 0.0005 is out of range (0.001 .. 3600",
				      "6: timeout = 0.05 is out of range (0.1 .. 86400", NULL });
	ck_assert_ptr_null(c);
	c = load("timeout = 0.1;\n"
		 "lines = ( { name = \"l\"; chip = \"sim\"; line = 1; direction = \"output\"; } );\n"
		 "commands = ( { name = \"p\"; gpio = { line = \"l\"; action = \"pulse\"; value = 1; duration = 0.001; }; } );\n");
	expect((const char *const[]){ NULL });
	ck_assert_uint_eq(c->timeout_usec, 100000);
	ck_assert_uint_eq(c->commands[0].duration_usec, 1000);
	config_unref(c);
}
END_TEST

START_TEST(command_listed_twice_for_a_client)
{
	struct config *c = load("clients = ( { id = \"a\"; key_file = \"a.key\";\n"
				"  commands = [ \"t\", \"u\",\n"
				"    \"t\" ]; } );\n" /* 3 */
				"commands = ( { name = \"t\"; exec = [ \"/bin/true\" ]; },\n"
				"  { name = \"u\"; exec = [ \"/bin/true\" ]; } );\n");

	expect((const char *const[]){ "3: client \"a\": command \"t\" is listed twice", NULL });
	ck_assert_ptr_null(c);
}
END_TEST

/* classic's candidates (client, allowed command) may not outnumber the
 * commands: each request tries every one (256 x 256 once cost 40-61 ms). */
START_TEST(classic_work_is_bounded)
{
	struct config *c = load("protocol = \"classic\";\n"
				"clients = (\n" /* 2 */
				"  { id = \"a\"; key_file = \"a.key\"; },\n"
				"  { id = \"b\"; key_file = \"b.key\"; commands = [ \"tt\" ]; }\n"
				");\n"
				"commands = ( { name = \"tt\"; exec = [ \"/bin/true\" ]; },\n"
				"  { name = \"uu\"; exec = [ \"/bin/true\" ]; } );\n");
	const char *const want[] = { "2: 3 (client, key, command) pairs in all", "4: b.key", NULL };

	expect(want);
	ck_assert_ptr_null(c);
}
END_TEST

/* Resolution problems land on the line of what they are about. */
START_TEST(resolve_reports_at_lines)
{
	struct config *c = load("clients = (\n"
				"  { id = \"a\"; key_file = \"a.key\"; },\n"
				"  { id = \"b\";\n"
				"    key_file = \"missing.key\"; },\n"              /* 4 */
				"  { id = \"c\"; key_file = \"a.key\"; }\n"         /* 5 */
				");\n"
				"lines = ( { name = \"l\"; chip = \"sim\";\n"
				"  line = 99; } );\n"                                 /* 8 */
				"commands = ( { name = \"t\";\n"
				"  exec = [ \"/nonexistent/prog\" ]; } );\n");        /* 10 */

	expect((const char *const[]){ "4: missing.key", "5: share a key",
				      "8: the sim chip has lines 0 .. 63", "10: /nonexistent/prog",
				      NULL });
	ck_assert_ptr_null(c);
}
END_TEST

/* One case per problem the loader reports: the text, then the problems. */
struct problem_case {
	const char *text;
	const char *want[5];
};

#define EXEC_T "commands = ( { name = \"t\"; exec = [ \"/bin/true\" ]; } );\n"

static const struct problem_case problem_cases[] = {
	{ "protocol = \"v2\";\n" CLIENT EXEC_T, { "1: protocol \"v2\": must be \"v1\" or \"classic\"" } },
	{ "hash = \"md5\";\n" CLIENT EXEC_T, { "1: hash", } },
	{ "tag_length = 8;\n" CLIENT EXEC_T, { "1: tag_length = 8 is out of range" } },
	{ "protocol = \"classic\";\ntag_length = 16;\n" CLIENT
	  "commands = ( { name = \"tt\"; exec = [ \"/bin/true\" ]; } );\n",
	  { "2: classic always uses the full digest (32)" } },
	{ "device_id = \"bad id\";\n" CLIENT EXEC_T, { "1: device_id = \"bad id\": use" } },
	{ "listen = 80;\n" CLIENT EXEC_T, { "1: listen must be an array" } },
	{ "listen = [ \"a:1\", \"b:2\", \"c:3\", \"d:4\", \"e:5\", \"f:6\", \"g:7\", \"h:8\", "
	  "\"i:9\", \"j:10\", \"k:11\", \"l:12\", \"m:13\", \"n:14\", \"o:15\", \"p:16\", "
	  "\"q:17\" ];\n" CLIENT EXEC_T, { "1: listen: at most 16 addresses" } },
	{ "listen = [ 80 ];\n" CLIENT EXEC_T, { "1: listen entry" } },
	{ "listen = [ ];\n" CLIENT EXEC_T, { "1: listen = [] leaves nothing to serve" } },
	{ "mqtt = { prefix = \"p\"; };\n" CLIENT EXEC_T, { "1: mqtt needs broker" } },
	{ "mqtt = { broker = \"tcp://b\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: broker \"tcp://b\": give mqtt://HOST[:PORT]" } },
	{ "mqtt = { broker = \"mqtt://u:p@b\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: broker \"mqtt://u:p@b\": only a host and a port" } },
	{ "mqtt = { broker = \"mqtt://b:0\"; };\n" CLIENT EXEC_T, { "1: mqtt: broker \"mqtt://b:0\": " } },
	{ "mqtt = { broker = \"mqtts://b\"; };\n" CLIENT EXEC_T, { "1: mqtt: mqtts:// needs ca_file" } },
	{ "mqtt = { broker = \"mqtt://b\"; ca_file = \"/ca\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: ca_file, tls_cert_file and tls_key_file are for mqtts://" } },
	{ "mqtt = { broker = \"mqtt://b\"; password_file = \"/p\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: a password_file needs a username" } },
	{ "mqtt = { broker = \"mqtt://b\"; username = \"u\"; password_file = \"p\"; };\n" CLIENT
	  EXEC_T, { "1: mqtt: password_file must be an absolute path" } },
	{ "mqtt = { broker = \"mqtt://b\"; prefix = \"a/#\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: prefix \"a/#\": a topic" } },
	{ "mqtt = { broker = \"mqtt://b\"; max_sessions = 0; };\n" CLIENT EXEC_T,
	  { "1: max_sessions = 0 is out of range" } },
	{ "mqtt = { broker = \"mqtt://b\"; nick = 1; };\n" CLIENT EXEC_T,
	  { "1: unknown setting 'nick' in mqtt" } },
	{ "mqtt = 3;\n" CLIENT EXEC_T, { "1: mqtt must be" } },
	{ "mqtt = { broker = 3; };\n" CLIENT EXEC_T, { "1: broker must be" } },
	{ "mqtt = { broker = \"mqtt://b\"; prefix = \"/a\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: prefix \"/a\": a topic" } },
	{ "mqtt = { broker = \"mqtt://b\"; prefix = \"a/\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: prefix \"a/\": a topic" } },
	/* Topic text a broker would refuse to subscribe to, or its own. */
	{ "mqtt = { broker = \"mqtt://b\"; prefix = \"$SYS/x\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: prefix \"$SYS/x\": a topic of up to 128 characters of UTF-8, without + or "
	    "#, control characters, a leading $ or a / at either end (a topic that starts with "
	    "$ is the broker's own)" } },
	{ "mqtt = { broker = \"mqtt://b\"; prefix = \"a\\tb\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: prefix \"a\tb\": a topic" } },
	{ "mqtt = { broker = \"mqtt://b\"; prefix = \"a\xff\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: prefix \"a\xff\": a topic" } },
	{ "mqtt = { broker = \"mqtt://b\"; prefix = \"a\xc2\x85\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: prefix \"a\xc2\x85\": a topic" } },
	/* Classic binds no device id: never through a broker. */
	{ "protocol = \"classic\";\nmqtt = { broker = \"mqtt://b\"; };\n" CLIENT
	  "commands = ( { name = \"tt\"; exec = [ \"/bin/true\" ]; } );\n",
	  { "2: mqtt: protocol \"classic\" cannot be served through a broker" } },
	{ "mqtt = { broker = \"mqtt://b\"; tls_key_file = \"/k\"; };\n" CLIENT EXEC_T,
	  { "1: mqtt: ca_file, tls_cert_file and tls_key_file are for mqtts://",
	    "1: mqtt: tls_cert_file and tls_key_file go together" } },
	{ "timeout = 1.0;\nhandshake_timeout = 2.0;\n" CLIENT EXEC_T,
	  { "2: handshake_timeout (2) is more than timeout (1)" } },
	{ "max_connections = 4;\nmax_connections_per_source = 8;\n" CLIENT EXEC_T,
	  { "2: max_connections_per_source (8) is more than max_connections (4)" } },
	{ "backoff = 3;\n" CLIENT EXEC_T, { "1: backoff" } },
	{ "backoff = { base = 10.0; max = 5.0; };\n" CLIENT EXEC_T,
	  { "1: backoff: max (5) is less than base (10)" } },
	{ "backoff = { speed = 1; };\n" CLIENT EXEC_T, { "1: speed" } },
	{ CLIENT "commands = ( { name = \"t\"; exec = \"/bin/true\"; } );\n",
	  { "2: exec must be an array" } },
	{ CLIENT "commands = ( { name = \"t\"; exec = [ ]; } );\n",
	  { "2: exec needs a program and at most" } },
	{ CLIENT "commands = ( { name = \"t\"; exec = ( \"/bin/true\", 3 ); } );\n",
	  { "2: exec argument" } },
	{ CLIENT "commands = ( { name = \"t\"; exec = [ \"true\" ]; } );\n",
	  { "2: \"true\" must be an absolute path" } },
	{ CLIENT "commands = ( { name = \"t\"; exec = [ \"/bin/true\" ];\n"
	  "  env = { "
	  "V0 = \"1\"; V1 = \"1\"; V2 = \"1\"; V3 = \"1\"; V4 = \"1\"; V5 = \"1\"; V6 = \"1\"; V7 = \"1\"; V8 = \"1\"; V9 = \"1\"; "
	  "V10 = \"1\"; V11 = \"1\"; V12 = \"1\"; V13 = \"1\"; V14 = \"1\"; V15 = \"1\"; V16 = \"1\"; V17 = \"1\"; V18 = \"1\"; V19 = \"1\"; "
	  "V20 = \"1\"; V21 = \"1\"; V22 = \"1\"; V23 = \"1\"; V24 = \"1\"; V25 = \"1\"; V26 = \"1\"; V27 = \"1\"; V28 = \"1\"; V29 = \"1\"; "
	  "V30 = \"1\"; V31 = \"1\"; V32 = \"1\"; V33 = \"1\"; V34 = \"1\"; V35 = \"1\"; V36 = \"1\"; V37 = \"1\"; V38 = \"1\"; V39 = \"1\"; "
	  "V40 = \"1\"; V41 = \"1\"; V42 = \"1\"; V43 = \"1\"; V44 = \"1\"; V45 = \"1\"; V46 = \"1\"; V47 = \"1\"; V48 = \"1\"; V49 = \"1\"; "
	  "V50 = \"1\"; V51 = \"1\"; V52 = \"1\"; V53 = \"1\"; V54 = \"1\"; V55 = \"1\"; V56 = \"1\"; V57 = \"1\"; V58 = \"1\"; V59 = \"1\"; "
	  "V60 = \"1\"; V61 = \"1\"; V62 = \"1\"; V63 = \"1\"; V64 = \"1\";  }; } );\n",
	  { "3: env: at most 64 variables" } },
	{ CLIENT "commands = ( { name = \"t\"; exec = [ \"/bin/true\" ]; env = [ \"A=1\" ]; } );\n",
	  { "2: env" } },
	{ CLIENT "commands = ( { name = \"t\"; exec = [ \"/bin/true\" ];\n"
	  "  env = { SIOT_CLIENT = \"x\"; N = 1; }; } );\n",
	  { "3: 'SIOT_CLIENT' is not a variable name a command may set (SIOT_* are set by siotd)",
	    "3: an env value" } },
	{ CLIENT "commands = ( { exec = [ \"/bin/true\" ]; } );\n", { "2: a command needs a name" } },
	{ CLIENT "commands = ( { name = \"a b\"; exec = [ \"/bin/true\" ]; } );\n",
	  { "2: command name \"a b\": use 1 to 64" } },
	{ "protocol = \"classic\";\n" CLIENT
	  "commands = ( { name = \"t\"; exec = [ \"/bin/true\" ]; } );\n",
	  { "3: classic refuses one-character names" } },
	{ CLIENT "commands = ( { name = \"t\"; exec = [ \"/bin/true\" ]; },\n"
	  "  { name = \"t\"; exec = [ \"/bin/true\" ]; } );\n",
	  { "3: command \"t\" is declared twice (first on line 2)" } },
	{ CLIENT "lines = ( { name = \"l\"; chip = \"sim\"; line = 1; direction = \"output\"; } );\n"
	  "commands = ( { name = \"t\"; exec = [ \"/bin/true\" ];\n"
	  "  gpio = { line = \"l\"; action = \"toggle\"; }; } );\n",
	  { "3: give exec or gpio, not both" } },
	{ CLIENT "commands = ( { name = \"t\"; } );\n", { "2: command \"t\" needs an action" } },
	{ CLIENT "lines = ( { name = \"l\"; chip = \"sim\"; line = 1; direction = \"output\"; } );\n"
	  "commands = ( { name = \"t\"; output = true;\n"
	  "  gpio = { line = \"l\"; action = \"toggle\"; }; } );\n",
	  { "3: command \"t\": output is for exec commands and gpio get" } },
	{ CLIENT "lines = ( { name = \"l\"; chip = \"sim\"; line = 1; direction = \"output\"; } );\n"
	  "commands = ( { name = \"t\"; timeout = 1.0;\n"
	  "  gpio = { line = \"l\"; action = \"get\"; }; } );\n",
	  { "3: command \"t\": env and timeout are for exec commands" } },
	{ CLIENT "commands = ( 3 );\n", { "2: a command" } },
	{ "clients = ( { id = \"a\"; key_file = \"a.key\"; commands = \"t\"; } );\n" EXEC_T,
	  { "1: commands of client \"a\" must be an array of names" } },
	{ "clients = ( { id = \"a\"; key_file = \"a.key\"; commands = [ 1 ]; } );\n" EXEC_T,
	  { "1: a command name" } },
	{ "clients = ( { id = \"a\"; key_file = \"a.key\"; commands = [ \"zz\" ]; } );\n" EXEC_T,
	  { "1: client \"a\": no command \"zz\" is declared" } },
	{ "clients = ( { key_file = \"a.key\"; } );\n" EXEC_T, { "1: a client needs an id" } },
	{ "clients = ( { id = \"a b\"; key_file = \"a.key\"; } );\n" EXEC_T,
	  { "1: client id \"a b\": use" } },
	{ "clients = ( { id = \"a\"; key_file = \"a.key\"; },\n"
	  "  { id = \"a\"; key_file = \"a.key\"; } );\n" EXEC_T,
	  { "2: client \"a\" is declared twice", "2: share a key" } },
	{ "clients = ( { id = \"a\"; } );\n" EXEC_T,
	  { "1: client \"a\" needs a key: key_file, key_files, key_credential or key_credentials" } },
	{ "clients = ( { id = \"a\"; key_files = [ \"1.key\", \"2.key\", \"3.key\" ];\n"
	  "  key_credentials = [ \"4.key\", \"5.key\" ]; } );\n" EXEC_T,
	  { "1: client \"a\" has 5 keys; at most 4 (to rotate: add the new key, move the client "
	    "over, remove the old one)" } },
	{ "clients = ( { id = \"a\"; key_files = [ ]; } );\n" EXEC_T,
	  { "1: key_files must be an array of one or more key files" } },
	{ "clients = ( { id = \"a\"; key_file = \"a.key\";\n  key_credentials = \"x\"; } );\n" EXEC_T,
	  { "2: key_credentials must be an array of one or more credential names" } },
	{ "clients = ( { id = \"a\"; key_files = [ \"a.key\",\n  \"a.key\" ]; } );\n" EXEC_T,
	  { "2: client \"a\" has this key twice" } },
	{ "clients = ( { id = \"a\"; key_file = \"a.key\"; key_credentials = [ \"../x\" ]; } );\n" EXEC_T,
	  { "1: key_credential \"../x\" must be a credential name, not a path" } },
	{ "clients = ( { id = \"a\"; key_credential = \"../a.key\"; } );\n" EXEC_T,
	  { "1: key_credential \"../a.key\" must be a credential name, not a path" } },
	{ "clients = ( 1 );\n" EXEC_T, { "1: a client" } },
	/* GPIO lines and actions. */
	{ CLIENT "lines = ( { chip = \"sim\"; line = 1; } );\n" EXEC_T, { "2: a line needs a name" } },
	{ CLIENT "lines = ( { name = \"l\"; chip = \"sim\"; line = 1; },\n"
	  "  { name = \"l\"; chip = \"sim\"; line = 2; } );\n" EXEC_T,
	  { "3: line \"l\" is declared twice (first on line 2)" } },
	{ CLIENT "lines = ( { name = \"l\"; line = 1; } );\n" EXEC_T,
	  { "2: line \"l\" needs a chip" } },
	{ CLIENT "lines = ( { name = \"l\"; chip = \"sim\"; } );\n" EXEC_T,
	  { "2: line \"l\" needs line = an offset or a line name" } },
	{ CLIENT "lines = ( { name = \"l\"; chip = \"sim\"; line = 1;\n"
	  "  drive = \"open-drain\"; initial = 1; } );\n" EXEC_T,
	  { "3: line \"l\": drive is for outputs", "3: line \"l\": initial is for outputs" } },
	{ CLIENT "lines = ( 7 );\n" EXEC_T, { "2: a line" } },
	{ CLIENT "commands = ( { name = \"t\"; gpio = 3; } );\n", { "2: gpio" } },
	{ CLIENT "commands = ( { name = \"t\"; gpio = { action = \"get\"; }; } );\n",
	  { "2: gpio needs line = the name of a line declared in lines" } },
	{ CLIENT "commands = ( { name = \"t\"; gpio = { line = \"x\"; action = \"get\"; }; } );\n",
	  { "2: gpio: no line \"x\" is declared" } },
	{ CLIENT "lines = ( { name = \"l\"; chip = \"sim\"; line = 1; direction = \"output\"; } );\n"
	  "commands = ( { name = \"t\"; gpio = { line = \"l\"; action = \"blink\"; }; },\n"
	  "  { name = \"u\"; gpio = { line = \"l\"; action = \"set\"; }; },\n"
	  "  { name = \"v\"; gpio = { line = \"l\"; action = \"toggle\"; value = 1; }; },\n"
	  "  { name = \"w\"; gpio = { line = \"l\"; action = \"get\"; duration = 1.0; }; } );\n",
	  { "3: gpio needs action = \"set\", \"toggle\", \"pulse\" or \"get\"",
	    "4: gpio action \"set\" needs value = 0 or 1", "5: gpio action \"toggle\" takes no value",
	    "6: only pulse takes a duration" } },
	{ CLIENT "lines = ( { name = \"l\"; chip = \"sim\"; line = 1; direction = \"output\"; } );\n"
	  "commands = ( { name = \"t\"; gpio = { line = \"l\"; action = \"pulse\"; value = 1; }; } );\n",
	  { "3: gpio action \"pulse\" needs duration = seconds" } },
	{ CLIENT "lines = ( { name = \"l\"; chip = \"sim\"; line = 1; } );\n"
	  "commands = ( { name = \"t\"; gpio = { line = \"l\"; action = \"toggle\"; }; } );\n",
	  { "3: gpio action \"toggle\" needs an output line; \"l\" is an input" } },
	{ "clients = ( { id = \"a\"; key_file = \"a.key\"; from = \"10.0.0.0/8\"; } );\n" EXEC_T,
	  { "1: from must be an array of networks" } },
	{ "clients = ( { id = \"a\"; key_file = \"a.key\"; from = [ ]; } );\n" EXEC_T,
	  { "1: from = [] would let client \"a\" in from nowhere" } },
	{ "clients = ( { id = \"a\"; key_file = \"a.key\";\n"
	  "  from = [ \"192.168.1.5/24\", \"garage.local\", \"10.0.0.0/33\", \"mqtt\" ]; } );\n" EXEC_T,
	  { "2: from: \"192.168.1.5/24\" has bits set past its /24 prefix: write 192.168.1.0/24 "
	    "for the network, or 192.168.1.5 alone for the one address",
	    "2: from: \"garage.local\" is not an address or network",
	    "2: from: \"10.0.0.0/33\": the prefix length must be 0 .. 32",
	    "2: from: \"mqtt\": there is no mqtt = { ... } to come through" } },
	{ "clients = ( { id = \"a\"; key_file = \"a.key\"; colour = 1; } );\n" EXEC_T,
	  { "1: colour" } },
};

START_TEST(every_problem_at_its_line)
{
	const struct problem_case *pc = &problem_cases[_i];
	struct config *c = load(pc->text);

	expect(pc->want[0] ? (const char *const[]){ pc->want[0], pc->want[1], pc->want[2],
						    pc->want[3], NULL }
			   : (const char *const[]){ NULL });
	ck_assert_ptr_null(c);
}
END_TEST

/* Networks in from lists: prefixes that end inside a byte, single
 * addresses, /0, and each family only against its own. */
START_TEST(from_networks)
{
	struct net_rule r[4];
	struct net_addr a = { .family = AF_INET, .addr = { 192, 168, 1, 200 } };
	char err[200];

	ck_assert_int_eq(net_rule_parse("192.168.1.128/25", &r[0], err, sizeof(err)), 0);
	ck_assert(net_rules_match(r, 1, &a));
	a.addr[3] = 127;
	ck_assert(!net_rules_match(r, 1, &a));
	ck_assert_int_eq(net_rule_parse("0.0.0.0/0", &r[0], err, sizeof(err)), 0);
	ck_assert(net_rules_match(r, 1, &a));
	ck_assert_int_eq(net_rule_parse("192.168.1.127", &r[0], err, sizeof(err)), 0);
	ck_assert_uint_eq(r[0].prefix, 32);
	ck_assert(net_rules_match(r, 1, &a));
	ck_assert_int_eq(net_rule_parse("fd00:7:4000::/33", &r[1], err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "has bits set past its /33 prefix: write fd00:7::/33 for the "
				  "network, or fd00:7:4000:: alone"),
		      "%s", err);
	ck_assert_int_eq(net_rule_parse("fd00:7:8000::/33", &r[1], err, sizeof(err)), 0);
	ck_assert_int_eq(net_rule_parse("fd00::/9", &r[1], err, sizeof(err)), 0);
	ck_assert_int_eq(net_rule_parse("::1", &r[2], err, sizeof(err)), 0);
	ck_assert_uint_eq(r[2].prefix, 128);
	ck_assert_int_eq(net_rule_parse("unix", &r[3], err, sizeof(err)), 0);
	struct net_addr v6 = { .family = AF_INET6, .addr = { 0xfd, 0x7f } };
	ck_assert(net_rules_match(r, 4, &v6)); /* fd00::/9 holds fd7f:: */
	v6.addr[1] = 0x80;
	ck_assert(!net_rules_match(&r[1], 2, &v6));
	struct net_addr u = { .family = AF_UNIX };
	ck_assert(net_rules_match(r, 4, &u));
	ck_assert(!net_rules_match(r, 3, &u));
	ck_assert_int_eq(net_rule_parse("10.0.0.0/", &r[0], err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(net_rule_parse("10.0.0.0/-1", &r[0], err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(net_rule_parse("/8", &r[0], err, sizeof(err)), -EINVAL);
	/* v4-mapped entries are the IPv4 rules they name, as peers are. */
	a = (struct net_addr){ .family = AF_INET, .addr = { 127, 0, 0, 1 } };
	ck_assert_int_eq(net_rule_parse("::ffff:127.0.0.1", &r[0], err, sizeof(err)), 0);
	ck_assert_int_eq(r[0].family, AF_INET);
	ck_assert_uint_eq(r[0].prefix, 32);
	ck_assert(net_rules_match(r, 1, &a));
	ck_assert_int_eq(net_rule_parse("::ffff:0:0/96", &r[0], err, sizeof(err)), 0);
	ck_assert_uint_eq(r[0].prefix, 0);
	ck_assert(net_rules_match(r, 1, &a));
	ck_assert_int_eq(net_rule_parse("::ffff:10.1.0.0/112", &r[0], err, sizeof(err)), 0);
	ck_assert(!net_rules_match(r, 1, &a));
	a.addr[0] = 10;
	a.addr[1] = 1;
	ck_assert(net_rules_match(r, 1, &a));
	ck_assert_int_eq(net_rule_parse("::ffff:10.1.0.1/112", &r[0], err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "write 10.1.0.0/16 for the network"), "%s", err);
	ck_assert_int_eq(net_rule_parse("::ffff:0:0/80", &r[0], err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "give the IPv4 network"), "%s", err);
}
END_TEST

/* A get answers with its value as text unless output = false. */
START_TEST(gpio_get_output_default)
{
	struct config *c = load(CLIENT
				"lines = ( { name = \"l\"; chip = \"sim\"; line = 1; direction = \"input\"; } );\n"
				"commands = ( { name = \"g\"; gpio = { line = \"l\"; action = \"get\"; }; },\n"
				"  { name = \"q\"; output = false; gpio = { line = \"l\"; action = \"get\"; }; } );\n");

	expect((const char *const[]){ NULL });
	ck_assert(c->commands[0].output);
	ck_assert(!c->commands[1].output);
	config_unref(c);
}
END_TEST

/* A device_id left out is taken from the host name, keeping what is allowed. */
START_TEST(device_id_from_host_name)
{
	struct config *c = load(CLIENT EXEC_T);
	char host[256] = "";

	expect((const char *const[]){ NULL });
	gethostname(host, sizeof(host) - 1);
	ck_assert_uint_gt(strlen(c->device_id), 0);
	ck_assert_msg(strncmp(host, c->device_id, strlen(c->device_id)) == 0 ||
			      strcmp(c->device_id, "siot") == 0,
		      "%s from %s", c->device_id, host);
	config_unref(c);
}
END_TEST

/* listen as one string, and handshake_timeout capped by a short timeout. */
START_TEST(listen_string_and_handshake_default)
{
	struct config *c = load("listen = \"127.0.0.1:4000\";\ntimeout = 1.0;\n" CLIENT EXEC_T);

	expect((const char *const[]){ NULL });
	ck_assert_str_eq(c->listen[0], "127.0.0.1:4000");
	ck_assert_ptr_null(c->listen[1]);
	ck_assert_uint_eq(c->handshake_timeout_usec, USEC_PER_SEC);
	config_unref(c);
}
END_TEST

/* An MQTT-only device: listen = [], the broker split into host and port,
 * and the defaults; "mqtt" in a from list. */
START_TEST(mqtt_only_device)
{
	char text[1024], pass[160], ca[160];
	struct config *c;
	FILE *f;

	snprintf(pass, sizeof(pass), "%s/mqtt.pass", dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	ck_assert_ptr_nonnull(f = fopen(pass, "w"));
	fputs("secret\n", f);
	fclose(f);
	chmod(pass, 0600);
	ck_assert_ptr_nonnull(f = fopen(ca, "w"));
	fclose(f);
	snprintf(text, sizeof(text),
		 "listen = [];\n"
		 "mqtt = { broker = \"mqtts://[::1]:8884\"; ca_file = \"%s\";\n"
		 "  username = \"dev\"; password_file = \"%s\"; };\n"
		 "clients = ( { id = \"alice\"; key_file = \"a.key\"; from = [ \"mqtt\" ]; } );\n"
		 EXEC_T,
		 ca, pass);
	c = load(text);

	expect((const char *const[]){ NULL });
	ck_assert_ptr_null(c->listen[0]);
	ck_assert_ptr_nonnull(c->mqtt);
	ck_assert_str_eq(c->mqtt->host, "::1");
	ck_assert_int_eq(c->mqtt->port, 8884);
	ck_assert(c->mqtt->tls);
	ck_assert_str_eq(c->mqtt->prefix, "siot");
	ck_assert_uint_eq(c->mqtt->max_sessions, CONFIG_DEFAULT_MQTT_SESSIONS);
	ck_assert_int_eq(c->clients[0].from[0].family, NET_FAMILY_MQTT);
	config_unref(c);
	c = load("mqtt = { broker = \"mqtt://broker.lan\"; prefix = \"home/siot\"; "
		 "max_sessions = 4; };\n" CLIENT EXEC_T);
	expect((const char *const[]){ NULL });
	ck_assert_int_eq(c->mqtt->port, 1883);
	ck_assert(!c->mqtt->tls);
	ck_assert_str_eq(c->mqtt->prefix, "home/siot");
	ck_assert_uint_eq(c->mqtt->max_sessions, 4);
	config_unref(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, valid_config_and_defaults);
	tcase_add_test(tc, durations_below_minimums);
	tcase_add_test(tc, command_listed_twice_for_a_client);
	tcase_add_test(tc, classic_work_is_bounded);
	tcase_add_test(tc, resolve_reports_at_lines);
	tcase_add_loop_test(tc, every_problem_at_its_line, 0,
			    (int)(sizeof(problem_cases) / sizeof(problem_cases[0])));
	tcase_add_test(tc, device_id_from_host_name);
	tcase_add_test(tc, gpio_get_output_default);
	tcase_add_test(tc, from_networks);
	tcase_add_test(tc, listen_string_and_handshake_default);
	tcase_add_test(tc, mqtt_only_device);
	suite_add_tcase(s, tc);
	return check_run(s);
}
