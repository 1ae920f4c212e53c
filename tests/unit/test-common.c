/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/common and siot-ctl's target merge: the key-file
 * permission policy (every rule, from crafted stat results), reading key
 * files (hex, base64, not a key, too large, not a regular file), the
 * libconfig readers' type and range reports, the one address syntax, and
 * merging flags over a target.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "hostport.h"
#include "keyfile.h"
#include "siot.h"
#include "target.h"
#include "check-run.h"

static struct stat file(unsigned mode, uid_t uid, gid_t gid)
{
	struct stat st = { .st_mode = S_IFREG | mode, .st_uid = uid, .st_gid = gid };
	return st;
}

/* A group this process is not in and that is not "siot". */
static gid_t foreign_group(void)
{
	return 54321;
}

START_TEST(keyfile_policy)
{
	static const struct {
		unsigned mode;
		bool own, client_ok, daemon_ok;
		const char *daemon_words;
	} cases[] = {
		{ 0600, true, true, true, NULL },
		{ 0400, true, true, true, NULL },
		{ 0640, true, false, true, NULL },      /* our own group may read (daemon) */
		{ 0644, true, false, false, "readable by others" },
		{ 0660, true, false, false, "writable by its group" },
		{ 0602, true, false, false, "writable by others" },
		{ 0600, false, false, false, "owned by uid" },
	};
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uid_t owner = cases[i].own ? geteuid() : geteuid() + 4242;
		struct stat st = file(cases[i].mode, owner, getegid());
		int c = keyfile_check(&st, "/k", KEYFILE_CLIENT, err, sizeof(err));
		int d = keyfile_check(&st, "/k", KEYFILE_DAEMON, err, sizeof(err));

		if (geteuid() == 0 && !cases[i].own)
			continue; /* root owns or may read anything it is handed here */
		ck_assert_msg((c == 0) == cases[i].client_ok, "client, mode %o", cases[i].mode);
		ck_assert_msg((d == 0) == cases[i].daemon_ok, "daemon, mode %o", cases[i].mode);
		if (cases[i].daemon_words)
			ck_assert_msg(strstr(err, cases[i].daemon_words), "%s", err);
	}
}
END_TEST

START_TEST(keyfile_group_and_type)
{
	struct stat st = file(0640, geteuid(), foreign_group());
	char err[512];

	ck_assert_int_eq(keyfile_check(&st, "/k", KEYFILE_DAEMON, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "not the daemon's group"));
	/* The fix names the service user's group when a check is made for it. */
	keyfile_set_service_group("gpio-svc", foreign_group() + 1);
	ck_assert_int_eq(keyfile_check(&st, "/k", KEYFILE_DAEMON, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "fix: chgrp gpio-svc /k && chmod 640 /k"));
	st.st_gid = foreign_group() + 1; /* its group may read it */
	ck_assert_int_eq(keyfile_check(&st, "/k", KEYFILE_DAEMON, err, sizeof(err)), 0);
	keyfile_set_service_group(NULL, 0);
	ck_assert_int_eq(keyfile_check(&st, "/k", KEYFILE_DAEMON, err, sizeof(err)), -EPERM);
	st.st_gid = foreign_group();
	st.st_mode = S_IFIFO | 0600;
	ck_assert_int_eq(keyfile_check(&st, "/k", KEYFILE_TRUSTED, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	st = file(0644, 4242, 4242); /* a credential: systemd made it */
	ck_assert_int_eq(keyfile_check(&st, "/k", KEYFILE_TRUSTED, err, sizeof(err)), 0);
}
END_TEST

static char dir[64];

static void make_dir(void)
{
	strcpy(dir, "/tmp/siot-common-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *write_file(const char *name, const char *text, unsigned mode)
{
	static char path[128];
	FILE *f;

	ck_assert(dir[0] == '/'); /* only inside the test's own folder */
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

START_TEST(keyfile_reading)
{
	uint8_t key[SIOT_MAX_KEY];
	size_t len = 0;
	char err[512], big[400];

	ck_assert_int_eq(keyfile_load(write_file("hex", "000102030405060708090a0b0c0d0e0f\n", 0600),
				      KEYFILE_CLIENT, key, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 16);
	ck_assert_uint_eq(key[15], 15);
	ck_assert_int_eq(keyfile_load(write_file("b64", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n",
						 0600),
				      KEYFILE_CLIENT, key, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 32);
	ck_assert_int_eq(keyfile_load(write_file("short", "00010203\n", 0600), KEYFILE_CLIENT, key,
				      &len, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "siot-ctl keygen"));
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(keyfile_load(write_file("big", big, 0600), KEYFILE_CLIENT, key, &len, err,
				      sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "too large"));
	ck_assert_int_lt(keyfile_load("/nonexistent/k", KEYFILE_CLIENT, key, &len, err, sizeof(err)),
			 0);
	ck_assert_ptr_nonnull(strstr(err, "cannot open key file"));
	ck_assert_int_eq(keyfile_load(dir, KEYFILE_CLIENT, key, &len, err, sizeof(err)), -EPERM);
}
END_TEST

static char problems[16][256];
static unsigned n_problems;

static void collect(void *userdata, const char *file, int line, const char *msg)
{
	(void)userdata;
	(void)file;
	if (n_problems < 16)
		snprintf(problems[n_problems], sizeof(problems[0]), "%d: %s", line, msg);
	n_problems++;
}

START_TEST(cfg_readers_report_types_and_ranges)
{
	config_t cf;
	struct cfg_reader r;
	const config_setting_t *root, *list;
	unsigned u = 7;
	uint64_t usec = 0;
	bool b = false;
	char buf[4];
	int k = -1;
	static const char *const names[] = { "one", "two" };
	const char *path = write_file("t.conf",
				      "a = \"x\";\n"        /* 1: not an integer */
				      "b = 99;\n"           /* 2: out of range */
				      "c = \"long\";\n"     /* 3: too long for buf */
				      "d = 1;\n"            /* 4: not a bool */
				      "e = \"three\";\n"    /* 5: not one of names */
				      "f = 1;\n"            /* 6: not a list */
				      "g = [ 1 ];\n"        /* 7: unknown */
				      "h = 0.5;\n"
				      "i = \"two\";\n",
				      0600);

	cfg_reader_init(&r, path);
	config_init(&cf);
	ck_assert_int_eq(cfg_read_file(&r, &cf), 0);
	root = config_root_setting(&cf);
	ck_assert(!cfg_get_uint(&r, root, "a", &u, 0, 10));
	ck_assert(!cfg_get_uint(&r, root, "b", &u, 0, 10));
	ck_assert_uint_eq(u, 7);
	ck_assert(!cfg_get_string_buf(&r, root, "c", buf, sizeof(buf)));
	ck_assert(!cfg_get_bool(&r, root, "d", &b));
	ck_assert(!cfg_get_enum(&r, root, "e", names, 2, "one or two", &k));
	ck_assert_int_eq(cfg_get_list(&r, root, "f", 4, "( ... )", &list), 0);
	cfg_check_members(&r, root, (const char *const[]){ "a", "b", "c", "d", "e", "f", "h", "i",
							  NULL },
			  NULL);
	ck_assert(cfg_get_usec(&r, root, "h", &usec, 0.1, 1.0));
	ck_assert_uint_eq(usec, 500000);
	ck_assert(cfg_get_enum(&r, root, "i", names, 2, "one or two", &k));
	ck_assert_int_eq(k, 1);
	config_destroy(&cf);
	n_problems = 0;
	ck_assert_uint_eq(cfg_reader_flush(&r, collect, NULL), 7);
	ck_assert_str_eq(problems[0], "1: a must be an integer (0 .. 10)");
	ck_assert_str_eq(problems[1], "2: b = 99 is out of range (0 .. 10)");
	ck_assert_str_eq(problems[2], "3: c is too long (at most 3 bytes)");
	ck_assert_str_eq(problems[3], "4: d must be true or false, not an integer");
	ck_assert_str_eq(problems[4], "5: e \"three\": must be one or two");
	ck_assert_str_eq(problems[5], "6: f must be a list ( ... )");
	ck_assert_str_eq(problems[6], "7: unknown setting 'g'");
	/* A syntax error is one problem, at its line. */
	path = write_file("bad.conf", "a = 1;\nb = ;\n", 0600);
	cfg_reader_init(&r, path);
	config_init(&cf);
	ck_assert_int_eq(cfg_read_file(&r, &cf), -EINVAL);
	config_destroy(&cf);
	n_problems = 0;
	ck_assert_uint_eq(cfg_reader_flush(&r, collect, NULL), 1);
	ck_assert_int_eq(atoi(problems[0]), 2);
}
END_TEST

/* libconfig says only "syntax error"; each common cause is named from the
 * text around the line, and nothing is made up when nothing is evident. */
START_TEST(syntax_error_hints)
{
	static const struct {
		const char *text, *hint;
	} cases[] = {
		{ "clients = (\n  { id = \"a\"; }\n  { id = \"b\"; }\n);\n",
		  "line 3: syntax error (a comma is probably missing at the end of line 2; "
		  "list entries are separated by commas)" },
		{ "clients = ( { id = \"a\"; } { id = \"b\"; } );\n",
		  "line 1: syntax error (a comma is missing between two entries on line 1" },
		{ "clients = (\n  { id = \"a\"; },  # the last\n\n);\n",
		  "line 4: syntax error (line 2 ends with a comma before the closing bracket; "
		  "libconfig allows none after the last entry)" },
		{ "commands = [ \"a\", ];\n",
		  "line 1: syntax error (there is a comma before a closing bracket on line 1; libconfig "
		  "allows none after the last entry)" },
		{ "device_id = garage;\n",
		  "line 1: syntax error (text on line 1 needs double quotes, as in name = \"text\";)" },
		{ "timeout = 5.0;;\n", "line 1: syntax error (there is a ';' too many on line 1)" },
		{ "hash = \"sha256\";\n\"x\" = 1;\n",
		  "line 2: syntax error (setting names on line 2 are written without quotes)" },
		{ "clients = (\n  { id = \"a\";\n);\n",
		  "line 3: syntax error (the '{' opened on line 2 is not closed before this ')')" },
		/* A '#' or a bracket inside a string is text, not a comment. */
		{ "device_id = \"a#b(\";\nclients = ( { id = \"a\"; } { id = \"b\"; } );\n",
		  "line 2: syntax error (a comma is missing between two entries on line 2" },
		/* A // comment and an escaped quote are not code either. */
		{ "a = \"x\\\"(\"; // (\nclients = ( { id = \"a\"; } { id = \"b\"; } );\n",
		  "line 2: syntax error (a comma is missing between two entries on line 2" },
		/* A ']' closing a '(' is the wrong kind. */
		{ "commands = ( \"a\" ];\n",
		  "line 1: syntax error (the '(' opened on line 1 is not closed before this ']')" },
		/* The value true is not text to quote. */
		{ "classic_response = true true;\n", "line 1: syntax error" },
		/* Nothing evident: libconfig's words alone. */
		{ "timeout = 5.0 5.0;\n", "line 1: syntax error" },
	};
	char hint[300];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg_reader r;
		config_t cf;
		const char *path = write_file("hint.conf", cases[i].text, 0600);

		cfg_reader_init(&r, path);
		config_init(&cf);
		if (cfg_read_file(&r, &cf) == 0 && strstr(cases[i].hint, "after the last entry")) {
			/* libconfig 1.7 (Debian 13) allows a comma after the last
			 * entry; 1.5 (Debian 12) does not, and there the hint is
			 * checked. */
			config_destroy(&cf);
			continue;
		}
		config_destroy(&cf);
		n_problems = 0;
		ck_assert_msg(cfg_reader_flush(&r, collect, NULL) == 1, "case %zu: no syntax error", i);
		snprintf(hint, sizeof(hint), "line %d: %s", atoi(problems[0]),
			 strchr(problems[0], ':') + 2);
		ck_assert_msg(strncmp(hint, cases[i].hint, strlen(cases[i].hint)) == 0 &&
				      (strstr(cases[i].hint, "(") || !strchr(hint, '(')),
			      "case %zu: got \"%s\"", i, hint);
	}
	ck_assert_int_eq(cfg_syntax_hint("/nonexistent", 1, hint, sizeof(hint)), -1);
	ck_assert_int_eq(cfg_syntax_hint(write_file("short.conf", "a = b\n", 0600), 5, hint,
					 sizeof(hint)),
			 -1);
}
END_TEST

START_TEST(target_merge_and_home)
{
	struct target base, over;
	char out[64];

	target_clear(&base);
	target_clear(&over);
	strcpy(base.host, "garage.local");
	strcpy(base.id, "alice");
	base.timeout = 30.0;
	base.tag_length = 16;
	strcpy(over.socket, "/run/siot.sock"); /* a socket given over a host wins alone */
	over.timeout = 5.0;
	target_merge(&base, &over);
	ck_assert_str_eq(base.host, "");
	ck_assert_str_eq(base.socket, "/run/siot.sock");
	ck_assert_str_eq(base.id, "alice");
	ck_assert(base.timeout == 5.0);
	ck_assert_int_eq(base.tag_length, 16); /* unset in over: kept */
	target_clear(&over);
	strcpy(over.host, "other");
	target_merge(&base, &over);
	ck_assert_str_eq(base.host, "other");
	ck_assert_str_eq(base.socket, ""); /* and the other way round */
	setenv("HOME", "/home/alice", 1);
	ck_assert_int_eq(target_expand_home("~/k.key", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/home/alice/k.key");
	ck_assert_int_eq(target_expand_home("/abs", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/abs");
	ck_assert_int_eq(target_expand_home("~/a-very-long-name-that-does-not-fit-in-the-buffer-at-all",
					    out, 16),
			 -ENAMETOOLONG);
	unsetenv("HOME"); /* no home: the path as written */
	ck_assert_int_eq(target_expand_home("~/k.key", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "~/k.key");
	/* Every field of over replaces base's. */
	target_clear(&over);
	strcpy(over.name, "n");
	strcpy(over.port, "1");
	strcpy(over.device, "d");
	strcpy(over.id, "i");
	strcpy(over.key_file, "k");
	strcpy(over.protocol, "classic");
	strcpy(over.hash, "sha512");
	over.challenge_length = 16;
	over.wakeup_length = 2;
	over.classic_response = 0;
	target_merge(&base, &over);
	ck_assert_str_eq(base.name, "n");
	ck_assert_str_eq(base.device, "d");
	ck_assert_str_eq(base.hash, "sha512");
	ck_assert_int_eq(base.challenge_length, 16);
	ck_assert_int_eq(base.wakeup_length, 2);
	ck_assert_int_eq(base.classic_response, 0);
}
END_TEST

static void quiet(void *userdata, const char *file, int line, const char *msg)
{
	collect(userdata, file, line, msg);
}

/* A target with every setting is read as written; each problem of a target
 * is reported at its line. */
START_TEST(target_settings_and_problems)
{
	struct target t;
	const char *path = write_file("ctl.conf",
				      "default = \"full\";\n"
				      "targets = (\n"
				      "  { name = \"full\"; socket = \"/run/s.sock\"; device = \"dev\"; id = \"me\";\n"
				      "    key_file = \"/k\"; protocol = \"classic\"; hash = \"sha512\";\n"
				      "    tag_length = 64; challenge_length = 16; wakeup_length = 2;\n"
				      "    timeout = 2.5; classic_response = false; }\n"
				      ");\n",
				      0600);

	target_clear(&t);
	ck_assert_int_eq(target_load(path, NULL, &t, quiet, false, NULL, NULL), 0);
	ck_assert_str_eq(t.name, "full");
	ck_assert_str_eq(t.socket, "/run/s.sock");
	ck_assert_str_eq(t.device, "dev");
	ck_assert_str_eq(t.protocol, "classic");
	ck_assert_str_eq(t.hash, "sha512");
	ck_assert_int_eq(t.tag_length, 64);
	ck_assert_int_eq(t.challenge_length, 16);
	ck_assert_int_eq(t.wakeup_length, 2);
	ck_assert(t.timeout == 2.5);
	ck_assert_int_eq(t.classic_response, 0);

	path = write_file("bad.conf",
			  "default = 3;\n"                                              /* 1 */
			  "targets = (\n"
			  "  { host = \"h\"; },\n"                                     /* 3 */
			  "  { name = \"b\"; host = \"h\"; socket = \"/s\"; },\n"   /* 4 */
			  "  { name = \"c\"; host = \"h\"; id = \"bad id\"; device = \"bad dev\"; },\n" /* 5 */
			  "  { name = \"c\"; host = \"h\"; }\n"                      /* 6 */
			  ");\n",
			  0600);
	n_problems = 0;
	target_clear(&t);
	ck_assert_int_eq(target_load(path, "b", &t, quiet, true, NULL, NULL), -EINVAL);
	ck_assert_uint_eq(n_problems, 6);
	ck_assert_str_eq(problems[0], "1: default must be a string (a target's name)");
	ck_assert_str_eq(problems[1], "3: a target needs a name");
	ck_assert_str_eq(problems[2], "4: target \"b\": give one of host, socket, mqtt and serial");
	ck_assert_str_eq(problems[3], "5: id \"bad id\": use 1 to 32 of A-Z a-z 0-9 . _ -");
	ck_assert_str_eq(problems[4], "5: device \"bad dev\": use 1 to 32 of A-Z a-z 0-9 . _ -");
	ck_assert_str_eq(problems[5], "6: target \"c\" is declared twice");
}
END_TEST

/* Serial targets: serial, baud and framing are read; a speed termios has
 * no constant for, baud without a port, and serial framing through a
 * broker are each reported at their line. */
START_TEST(target_serial)
{
	struct target t;
	const char *path = write_file("serial.conf",
				      "targets = (\n"
				      "  { name = \"board\"; serial = \"/dev/ttyUSB0\"; baud = 57600;\n"
				      "    id = \"me\"; key_file = \"/k\"; },\n"
				      "  { name = \"bridge\"; host = \"h:5000\"; framing = \"serial\"; }\n"
				      ");\n",
				      0600);

	target_clear(&t);
	ck_assert_int_eq(target_load(path, "board", &t, quiet, false, NULL, NULL), 0);
	ck_assert_str_eq(t.serial, "/dev/ttyUSB0");
	ck_assert_int_eq(t.baud, 57600);
	ck_assert_str_eq(t.framing, "");
	target_clear(&t);
	ck_assert_int_eq(target_load(path, "bridge", &t, quiet, false, NULL, NULL), 0);
	ck_assert_str_eq(t.framing, "serial");
	ck_assert_str_eq(t.port, "5000");

	path = write_file("bad-serial.conf",
			  "targets = (\n"
			  "  { name = \"a\"; serial = \"/dev/ttyS0\"; baud = 12345; },\n"          /* 2 */
			  "  { name = \"b\"; host = \"h\"; baud = 9600; },\n"                      /* 3 */
			  "  { name = \"c\"; mqtt = \"mqtt://b\"; device = \"d\"; framing = \"serial\"; },\n" /* 4 */
			  "  { name = \"d\"; serial = \"/dev/ttyS0\"; host = \"h\"; framing = \"x\"; }\n" /* 5 */
			  ");\n",
			  0600);
	n_problems = 0;
	target_clear(&t);
	ck_assert_int_eq(target_load(path, "a", &t, quiet, true, NULL, NULL), -EINVAL);
	ck_assert_uint_eq(n_problems, 5);
	ck_assert_str_eq(problems[0], "2: baud 12345: not a speed a serial port takes (1200, 2400, "
				      "4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, "
				      "500000, 921600 or 1000000)");
	ck_assert_str_eq(problems[1],
			 "3: target \"b\": baud is for a serial port (serial = \"/dev/ttyUSB0\")");
	ck_assert_str_eq(problems[2], "4: target \"c\": framing = \"serial\" is for a TCP stream "
				      "bridged to a serial line, not a broker");
	ck_assert_str_eq(problems[3], "5: framing \"x\": must be \"stream\" or \"serial\"");
	ck_assert_str_eq(problems[4], "5: target \"d\": give one of host, socket, mqtt and serial");
}
END_TEST

/* A group is picked by its name (return 1, members in order); each problem
 * of a group is reported at its line, and a caller that does not take
 * groups gets -ESRCH for a group's name. */
START_TEST(target_groups)
{
	static struct target_group g;
	struct target t;
	const char *path = write_file("groups.conf",
				      "default = \"both\";\n"
				      "targets = ( { name = \"a\"; host = \"h\"; },\n"
				      "            { name = \"b\"; socket = \"/s\"; } );\n"
				      "groups = ( { name = \"both\"; targets = [ \"b\", \"a\" ]; } );\n",
				      0600);

	target_clear(&t);
	ck_assert_int_eq(target_load(path, NULL, &t, quiet, false, NULL, &g), 1);
	ck_assert_str_eq(g.name, "both");
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(target_group_member(&g, 0), "b");
	ck_assert_str_eq(target_group_member(&g, 1), "a");
	target_group_get(&g, 1, &t);
	ck_assert_str_eq(t.host, "h");
	target_group_free(&g);
	ck_assert_int_eq(target_load(path, "both", &t, quiet, false, NULL, NULL), -ESRCH);
	ck_assert_int_eq(target_load(path, "a", &t, quiet, false, NULL, &g), 0);
	ck_assert_str_eq(t.host, "h");

	path = write_file("bad-groups.conf",
			  "default = \"none\";\n"                                         /* 1 */
			  "targets = ( { name = \"a\"; host = \"h\"; } );\n"
			  "groups = ( { name = \"g\"; targets = [ \"a\", \"a\", \"x\" ]; },\n" /* 3 */
			  "  { name = \"a\"; targets = [ ]; },\n"                          /* 4 */
			  "  { name = \"g\"; targets = [ \"a\" ]; nick = 1; },\n"          /* 5 */
			  "  { targets = [ \"a\" ]; }, 3 );\n",                             /* 6 */
			  0600);
	n_problems = 0;
	ck_assert_int_eq(target_load(path, NULL, &t, quiet, false, NULL, &g), -EINVAL);
	ck_assert_uint_eq(n_problems, 9);
	ck_assert_str_eq(problems[0], "1: default = \"none\": no such target or group");
	ck_assert_str_eq(problems[1], "3: group \"g\": no target or group named \"x\"");
	ck_assert_str_eq(problems[2], "3: group \"g\" names \"a\" twice");
	ck_assert_str_eq(problems[3],
			 "4: group \"a\" has the name of a target; -t could not tell them apart");
	ck_assert_str_eq(problems[4],
			 "4: group \"a\" needs targets = [ \"NAME\", ... ] (at least one)");
	ck_assert_str_eq(problems[5], "5: unknown setting 'nick' in a group");
	ck_assert_str_eq(problems[6], "5: group \"g\" is declared twice");
	ck_assert_str_eq(problems[7], "6: a group needs a name");
	ck_assert_str_eq(problems[8], "6: each entry of groups must be a group { ... }, not an integer");
}
END_TEST

/* Groups may include groups and patterns: members come in the group's
 * order, each once; a cycle is refused at the line that closes it; -t
 * takes a pattern of target names. */
START_TEST(target_groups_nested_and_patterns)
{
	static struct target_group g;
	struct target t;
	const char *path = write_file("nested.conf",
				      "targets = ( { name = \"dev1\"; host = \"h1\"; },\n"
				      "  { name = \"dev2\"; host = \"h2\"; },\n"
				      "  { name = \"dev10\"; host = \"h10\"; },\n"
				      "  { name = \"gate\"; host = \"g\"; } );\n"
				      "groups = ( { name = \"all\"; targets = [ \"gate\", \"devs\", \"dev1\" ]; },\n"
				      "  { name = \"devs\"; targets = [ \"dev?\", \"dev*\" ]; } );\n",
				      0600);

	target_clear(&t);
	ck_assert_int_eq(target_load(path, "all", &t, quiet, false, NULL, &g), 1);
	ck_assert_uint_eq(g.n, 4);
	ck_assert_str_eq(target_group_member(&g, 0), "gate");
	ck_assert_str_eq(target_group_member(&g, 1), "dev1");
	ck_assert_str_eq(target_group_member(&g, 2), "dev2");
	ck_assert_str_eq(target_group_member(&g, 3), "dev10");
	target_group_free(&g);
	ck_assert_int_eq(target_load(path, "dev1*", &t, quiet, false, NULL, &g), 1);
	ck_assert_str_eq(g.name, "dev1*");
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(target_group_member(&g, 1), "dev10");
	target_group_get(&g, 1, &t);
	ck_assert_str_eq(t.host, "h10");
	target_group_free(&g);
	ck_assert_int_eq(target_load(path, "x*", &t, quiet, false, NULL, &g), -ESRCH);
	ck_assert_int_eq(target_load(path, "dev*", &t, quiet, false, NULL, NULL), -ESRCH);

	path = write_file("cycle.conf",
			  "targets = ( { name = \"a\"; host = \"h\"; },\n"        /* 1 */
			  "  { name = \"b*\"; host = \"h\"; } );\n"               /* 2 */
			  "groups = ( { name = \"one\"; targets = [ \"two\" ]; },\n" /* 3 */
			  "  { name = \"two\"; targets = [ \"a\", \"one\" ]; },\n" /* 4 */
			  "  { name = \"three\"; targets = [ \"z*\" ]; } );\n",   /* 5 */
			  0600);
	n_problems = 0;
	ck_assert_int_eq(target_load(path, "a", &t, quiet, false, NULL, &g), -EINVAL);
	ck_assert_uint_eq(n_problems, 3);
	ck_assert_str_eq(problems[0], "2: target name \"b*\": *, ? and [ are for patterns, not names");
	ck_assert_str_eq(problems[1],
			 "4: group \"two\" includes group \"one\", which includes \"two\": a cycle");
	ck_assert_str_eq(problems[2], "5: group \"three\": the pattern \"z*\" matches no target");
}
END_TEST

/* A file of n targets and one group of them all, loaded and the group
 * picked: target_load's count of name comparisons. */
static unsigned long fleet_work(unsigned n)
{
	char *text = NULL, name[32];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	static struct target_group g;
	struct target t;
	unsigned long before;

	fputs("targets = (\n", f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s{ name = \"dev%u\"; mqtt = \"mqtt://b\"; device = \"dev%u\"; }\n",
			i ? "," : "", (i * 7919u) % n, i);
	fputs(");\ngroups = ( { name = \"all\"; targets = [ \"dev*\" ]; },\n"
	      "  { name = \"named\"; targets = [ ", f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s\"dev%u\"", i ? ", " : "", i);
	fputs(" ]; } );\n", f);
	fclose(f);
	snprintf(name, sizeof(name), "fleet-%u.conf", n);
	before = target_load_work;
	ck_assert_int_eq(target_load(write_file(name, text, 0600), "named", &t, quiet, false, NULL,
				     &g),
			 1);
	ck_assert_uint_eq(g.n, n);
	target_group_free(&g);
	free(text);
	return target_load_work - before;
}

/* The work of loading grows as n log n at most, never as n squared: ten
 * times the targets (and members) costs well under fifteen times the
 * comparisons (the quadratic loader this replaced made a hundred times). */
START_TEST(target_load_is_not_quadratic)
{
	unsigned long w1 = fleet_work(1000), w10 = fleet_work(10000);

	ck_assert_uint_gt(w1, 1000);
	ck_assert_msg(w10 < 15 * w1, "1,000 targets: %lu comparisons; 10,000: %lu", w1, w10);
}
END_TEST

/* Every form of the address syntax, and each malformed one with its words. */
START_TEST(host_and_port)
{
	static const struct {
		const char *spec, *host, *port, *err;
	} cases[] = {
		{ "garage.local:7468", "garage.local", "7468", NULL },
		{ "192.168.1.20:80", "192.168.1.20", "80", NULL },
		{ "*:7468", "*", "7468", NULL },
		{ "[fd00::1]:7468", "fd00::1", "7468", NULL },
		{ "[fd00::1]", "fd00::1", "", NULL },
		{ "fd00::1", "fd00::1", "", NULL },
		{ "::", "::", "", NULL },
		{ "garage", "garage", "", NULL },
		{ "[fd00::1", NULL, NULL, "no closing ']'" },
		{ "[fd00::1]7468", NULL, NULL, "expected ':PORT' after ']'" },
		{ "[fd00::1]:", NULL, NULL, "the port is missing" },
		{ "garage:", NULL, NULL, "the port is missing" },
		{ ":7468", NULL, NULL, "the host is missing" },
		{ "[]:7468", NULL, NULL, "the host is missing" },
		{ "", NULL, NULL, "the host is missing" },
		{ "garage:0", NULL, NULL, "port \"0\" is not a number from 1 to 65535" },
		{ "garage:65536", NULL, NULL, "is not a number" },
		{ "garage:http", NULL, NULL, "is not a number" },
		{ "garage:-1", NULL, NULL, "is not a number" },
		{ "[::1]:123456", NULL, NULL, "is not a number" },
	};
	char host[16], port[8], err[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = hostport_split(cases[i].spec, host, sizeof(host), port, sizeof(port), err,
				       sizeof(err));
		if (!cases[i].err) {
			ck_assert_msg(r == 0, "%s: %s", cases[i].spec, err);
			ck_assert_str_eq(host, cases[i].host);
			ck_assert_str_eq(port, cases[i].port);
		} else {
			ck_assert_msg(r == -EINVAL, "%s was accepted", cases[i].spec);
			ck_assert_msg(strstr(err, cases[i].err), "%s: %s", cases[i].spec, err);
		}
	}
	/* A host longer than the buffer is refused, not cut. */
	ck_assert_int_eq(hostport_split("a-very-long-host-name:1", host, sizeof(host), port,
					sizeof(port), err, sizeof(err)),
			 -EINVAL);
	ck_assert(hostport_is_port("65535"));
	ck_assert(!hostport_is_port("065536"));
	ck_assert(!hostport_is_port("7468 "));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("common");

	tcase_add_test(tc, keyfile_policy);
	tcase_add_test(tc, keyfile_group_and_type);
	tcase_add_test(tc, host_and_port);
	suite_add_tcase(s, tc);
	tc = tcase_create("files"); /* tests that write files, in their own folder */
	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_add_test(tc, keyfile_reading);
	tcase_add_test(tc, cfg_readers_report_types_and_ranges);
	tcase_add_test(tc, syntax_error_hints);
	tcase_add_test(tc, target_merge_and_home);
	tcase_add_test(tc, target_settings_and_problems);
	tcase_add_test(tc, target_serial);
	tcase_add_test(tc, target_groups);
	tcase_add_test(tc, target_groups_nested_and_patterns);
	tcase_add_test(tc, target_load_is_not_quadratic);
	suite_add_tcase(s, tc);
	return check_run(s);
}
