/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of siotd's configuration: config_load (parse and validate) and
 * config_resolve (keys, lines, programs), through config_load_and_resolve on
 * files in a temporary folder.  Each case names the problems it must get,
 * as "LINE: words in the message", and gets no others.
 */
#include <check.h>
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
	ck_assert_ptr_nonnull(c->clients[0].key);
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
	const char *const want[] = { "2: 3 (client, command) pairs in all", "4: b.key", NULL };

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
	suite_add_tcase(s, tc);
	return check_run(s);
}
