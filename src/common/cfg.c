/* SPDX-License-Identifier: MIT */
#include "cfg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usec.h"

struct cfg_problem {
	char *file, *msg;
	int line;
	unsigned seq;
};

void cfg_print_problem(void *userdata, const char *file, int line, const char *msg)
{
	(void)userdata;
	if (line > 0)
		fprintf(stderr, "%s:%d: %s\n", file, line, msg);
	else
		fprintf(stderr, "%s: %s\n", file, msg);
}

void cfg_reader_init(struct cfg_reader *r, const char *path)
{
	*r = (struct cfg_reader){ .path = path };
}

static void add_problem(struct cfg_reader *r, const char *file, int line, const char *fmt,
			va_list ap)
{
	char msg[1024];
	struct cfg_problem *p;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	p = realloc(r->problems, (r->errors + 1) * sizeof(*p));
	if (!p)
		abort(); /* out of memory while reading a config: nothing sensible to do */
	r->problems = p;
	p[r->errors] = (struct cfg_problem){ .file = strdup(file ? file : r->path),
					     .msg = strdup(msg), .line = line, .seq = r->errors };
	r->errors++;
}

static void add_problem_at(struct cfg_reader *r, const char *file, int line, const char *fmt,
			   ...) __attribute__((format(printf, 4, 5)));
static void add_problem_at(struct cfg_reader *r, const char *file, int line, const char *fmt,
			   ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_problem(r, file, line, fmt, ap);
	va_end(ap);
}

void cfg_report(struct cfg_reader *r, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	const char *file = NULL;
	int line = 0;

	if (s) {
		line = (int)config_setting_source_line(s);
		file = config_setting_source_file(s);
	}
	va_start(ap, fmt);
	add_problem(r, file, line, fmt, ap);
	va_end(ap);
}

void cfg_report_line(struct cfg_reader *r, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_problem(r, NULL, line, fmt, ap);
	va_end(ap);
}

int cfg_read_file(struct cfg_reader *r, config_t *cf)
{
	if (config_read_file(cf, r->path) == CONFIG_TRUE)
		return 0;
	if (config_error_type(cf) == CONFIG_ERR_FILE_IO)
		cfg_report_line(r, 0, "%s", strerror(errno ? errno : ENOENT));
	else {
		const char *file = config_error_file(cf) ? config_error_file(cf) : r->path;
		char hint[300];

		if (cfg_syntax_hint(file, config_error_line(cf), hint, sizeof(hint)) == 0)
			add_problem_at(r, config_error_file(cf), config_error_line(cf), "%s (%s)",
				       config_error_text(cf), hint);
		else
			add_problem_at(r, config_error_file(cf), config_error_line(cf), "%s",
				       config_error_text(cf));
	}
	return -EINVAL;
}

static int problem_cmp(const void *a, const void *b)
{
	const struct cfg_problem *x = a, *y = b;
	int f = strcmp(x->file ? x->file : "", y->file ? y->file : "");

	if (f)
		return f;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : 1;
}

unsigned cfg_reader_flush(struct cfg_reader *r, cfg_report_fn report, void *userdata)
{
	unsigned n = r->errors;

	if (n)
		qsort(r->problems, n, sizeof(*r->problems), problem_cmp);
	for (unsigned i = 0; i < n; i++) {
		struct cfg_problem *p = &r->problems[i];
		report(userdata, p->file ? p->file : r->path, p->line,
		       p->msg ? p->msg : "out of memory");
		free(p->file);
		free(p->msg);
	}
	free(r->problems);
	r->problems = NULL;
	r->errors = 0;
	return n;
}

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "true or false";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	default:
		return "something else";
	}
}

void cfg_check_members(struct cfg_reader *r, const config_setting_t *group,
		       const char *const *allowed, const char *where)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(m);
		bool ok = false;

		for (size_t j = 0; allowed[j] && !ok; j++)
			ok = name && strcmp(name, allowed[j]) == 0;
		if (!ok)
			cfg_report(r, m, "unknown setting '%s'%s%s", name ? name : "?",
				   where ? " in " : "", where ? where : "");
	}
}

bool cfg_want_type(struct cfg_reader *r, const config_setting_t *s, const char *name, int type)
{
	int t = config_setting_type(s);

	if (t == type)
		return true;
	cfg_report(r, s, "%s must be %s, not %s", name, type_name(type), type_name(t));
	return false;
}

bool cfg_is_sequence(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_LIST ||
	       config_setting_type(s) == CONFIG_TYPE_ARRAY;
}

const char *cfg_get_string(struct cfg_reader *r, const config_setting_t *g, const char *name)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (!s || !cfg_want_type(r, s, name, CONFIG_TYPE_STRING))
		return NULL;
	return config_setting_get_string(s);
}

bool cfg_get_string_buf(struct cfg_reader *r, const config_setting_t *g, const char *name,
			char *out, size_t n)
{
	const char *s = cfg_get_string(r, g, name);

	if (!s)
		return false;
	if (strlen(s) >= n) {
		cfg_report(r, config_setting_get_member(g, name), "%s is too long (at most %zu bytes)",
			   name, n - 1);
		return false;
	}
	memcpy(out, s, strlen(s) + 1);
	return true;
}

static bool is_integer(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

bool cfg_get_uint(struct cfg_reader *r, const config_setting_t *g, const char *name,
		  unsigned *out, unsigned min, unsigned max)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	long long v;

	if (!s)
		return false;
	if (!is_integer(s)) {
		cfg_report(r, s, "%s must be an integer (%u .. %u)", name, min, max);
		return false;
	}
	v = config_setting_get_int64(s);
	if (v < (long long)min || v > (long long)max) {
		cfg_report(r, s, "%s = %lld is out of range (%u .. %u)", name, v, min, max);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

bool cfg_get_bool(struct cfg_reader *r, const config_setting_t *g, const char *name, bool *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (!s || !cfg_want_type(r, s, name, CONFIG_TYPE_BOOL))
		return false;
	*out = config_setting_get_bool(s) != 0;
	return true;
}

bool cfg_get_usec(struct cfg_reader *r, const config_setting_t *g, const char *name,
		  uint64_t *out, double min, double max)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	double v;

	if (!s)
		return false;
	if (is_integer(s)) {
		v = (double)config_setting_get_int64(s);
	} else if (config_setting_type(s) == CONFIG_TYPE_FLOAT) {
		v = config_setting_get_float(s);
	} else {
		cfg_report(r, s, "%s must be a number of seconds", name);
		return false;
	}
	if (!isfinite(v) || v < min || v > max) {
		cfg_report(r, s, "%s = %g is out of range (%g .. %g seconds)", name, v, min, max);
		return false;
	}
	*out = usec_from_seconds(v);
	return true;
}

bool cfg_get_enum(struct cfg_reader *r, const config_setting_t *g, const char *name,
		  const char *const *names, size_t n, const char *expected, int *out)
{
	const char *s = cfg_get_string(r, g, name);

	if (!s)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return true;
		}
	}
	cfg_report(r, config_setting_get_member(g, name), "%s \"%s\": must be %s", name, s,
		   expected);
	return false;
}

int cfg_get_list(struct cfg_reader *r, const config_setting_t *root, const char *name, int max,
		 const char *shape, const config_setting_t **out)
{
	const config_setting_t *list = config_setting_get_member(root, name);
	int n = 0;

	*out = list;
	if (list && !cfg_is_sequence(list))
		cfg_report(r, list, "%s must be a list %s", name, shape);
	else if (list)
		n = config_setting_length(list);
	if (n > max) {
		cfg_report(r, list, "at most %d %s", max, name);
		n = max;
	}
	return n;
}
