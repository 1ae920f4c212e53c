/* SPDX-License-Identifier: MIT */
/*
 * A likely cause for libconfig's bare "syntax error": the text around the
 * line often shows it.  Only hints; libconfig's line stays the report.
 */
#include "cfg.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HINT_MAX_LINES 100000
#define HINT_LINE_MAX 1024

/* Line text without a comment (# or //, outside quotes) and trailing space. */
static void strip(char *s)
{
	bool quoted = false;
	size_t n;

	for (char *p = s; *p; p++) {
		if (*p == '\\' && quoted && p[1]) {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (*p == '#' || (p[0] == '/' && p[1] == '/'))) {
			*p = '\0';
			break;
		}
	}
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static const char *skip_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

/* s matches the extended regular expression re. */
static bool matches(const char *s, const char *re)
{
	regex_t rx;
	bool m;

	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	m = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return m;
}

static bool ends_entry(char c)
{
	return c == '}' || c == ')' || c == ']' || c == '"';
}

#define HINT_DEPTH 64

/* Brackets open so far (outside quotes), to find one closed by the wrong
 * kind: "(" ... "}" . */
struct brackets {
	char open[HINT_DEPTH];
	int line[HINT_DEPTH];
	int depth;
	char bad_open, bad_close; /* the first mismatch */
	int bad_open_line, bad_line;
};

static void track(struct brackets *b, const char *s, int line)
{
	static const char *const pairs = "(){}[]";
	bool quoted = false;

	for (; *s; s++) {
		const char *k;

		if (*s == '\\' && quoted && s[1]) {
			s++;
			continue;
		}
		if (*s == '"')
			quoted = !quoted;
		if (quoted || b->bad_close || !(k = strchr(pairs, *s)) || !*s)
			continue;
		if ((k - pairs) % 2 == 0) {
			if (b->depth < HINT_DEPTH) {
				b->open[b->depth] = *s;
				b->line[b->depth] = line;
			}
			b->depth++;
		} else if (b->depth > 0 && b->depth <= HINT_DEPTH &&
			   b->open[b->depth - 1] != k[-1]) {
			b->bad_open = b->open[b->depth - 1];
			b->bad_open_line = b->line[b->depth - 1];
			b->bad_close = *s;
			b->bad_line = line;
		} else if (b->depth > 0) {
			b->depth--;
		}
	}
}

int cfg_syntax_hint(const char *path, int line, char *hint, size_t len)
{
	char cur[HINT_LINE_MAX] = "", prev[HINT_LINE_MAX] = "", buf[HINT_LINE_MAX];
	struct brackets br = { .depth = 0 };
	int n = 0, prev_line = 0;
	const char *c;
	FILE *f;

	hint[0] = '\0';
	if (!path || line < 1 || !(f = fopen(path, "re")))
		return -1;
	while (n < line && n < HINT_MAX_LINES && fgets(buf, sizeof(buf), f)) {
		n++;
		strip(buf);
		track(&br, buf, n);
		if (n == line) {
			snprintf(cur, sizeof(cur), "%s", buf);
		} else if (*skip_space(buf)) {
			snprintf(prev, sizeof(prev), "%s", buf);
			prev_line = n;
		}
	}
	fclose(f);
	if (n != line)
		return -1;
	c = skip_space(cur);

	if (br.bad_close && br.bad_line == line)
		snprintf(hint, len, "the '%c' opened on line %d is not closed before this '%c'",
			 br.bad_open, br.bad_open_line, br.bad_close);
	else if (matches(cur, ",[[:space:]]*[])]"))
		snprintf(hint, len, "there is a comma before a closing bracket on line %d; "
				    "libconfig allows none after the last entry", line);
	else if ((*c == ')' || *c == ']') && prev_line && prev[strlen(prev) - 1] == ',')
		snprintf(hint, len, "line %d ends with a comma before the closing bracket; "
				    "libconfig allows none after the last entry", prev_line);
	else if (matches(cur, "[])}][[:space:]]*[({]"))
		snprintf(hint, len, "a comma is missing between two entries on line %d; "
				    "list entries are separated by commas", line);
	else if ((*c == '{' || *c == '(' || *c == '"') && prev_line &&
		 ends_entry(prev[strlen(prev) - 1]) && !matches(prev, "=[[:space:]]*\"[^\"]*\"$"))
		snprintf(hint, len, "a comma is probably missing at the end of line %d; "
				    "list entries are separated by commas", prev_line);
	else if (*c == ';' || strstr(cur, ";;"))
		snprintf(hint, len, "there is a ';' too many on line %d", line);
	else if (*c == '"' && strchr(c, '='))
		snprintf(hint, len, "setting names on line %d are written without quotes", line);
	else if (matches(cur, "[=:][[:space:]]*[A-Za-z_][A-Za-z0-9_.-]*[[:space:]]*[;,]?[[:space:]]*$") &&
		 !matches(cur, "[=:][[:space:]]*(true|false|TRUE|FALSE|True|False)[[:space:]]*[;,]?[[:space:]]*$"))
		snprintf(hint, len, "text on line %d needs double quotes, as in name = \"text\";",
			 line);
	return hint[0] ? 0 : -1;
}
