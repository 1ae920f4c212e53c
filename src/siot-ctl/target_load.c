/* SPDX-License-Identifier: MIT */
/*
 * siot-ctl.conf, read once per run: the targets indexed by name, the groups
 * checked and expanded (nested groups, patterns, each member once).  Every
 * step costs the number of targets and members, times a logarithm at most,
 * so that a fleet's file of 10,000 targets loads in milliseconds and a
 * group send never reads the file again per member.
 */
#include "target.h"
#include "target_internal.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

unsigned long target_load_work;

/* A target or a group: its name, where it is, and its place among the
 * file's targets (or groups). */
struct entry {
	const char *name;
	const config_setting_t *s;
	unsigned pos;
};

/* A group as declared, and its state in the search for cycles. */
struct group_def {
	const config_setting_t *members; /* its targets = [ ... ], when usable */
	enum { UNSEEN, ON_PATH, DONE } state;
	bool cyclic;
};

struct target_file {
	config_t cf;
	struct entry *t, *t_sorted;  /* the targets, in file order and by name */
	unsigned n_t;
	struct entry *g, *g_sorted;  /* the groups, likewise */
	struct group_def *gd;        /* by file order */
	unsigned n_g;
	unsigned *mark;              /* per target: the expansion that took it */
	unsigned mark_now;
};

bool target_is_pattern(const char *name)
{
	return strpbrk(name, "*?[") != NULL;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c;

	target_load_work++;
	c = strcmp(x->name, y->name);
	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* The first-declared entry called name in sorted[0..n), or NULL. */
static const struct entry *find(const struct entry *sorted, unsigned n, const char *name)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		target_load_work++;
		if (strcmp(sorted[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	target_load_work++;
	return lo < n && strcmp(sorted[lo].name, name) == 0 ? &sorted[lo] : NULL;
}

/* A sorted copy of e[0..n), each name declared twice reported at its
 * second place (what is "a target" or "a group"). */
static struct entry *sort_names(struct cfg_reader *r, const struct entry *e, unsigned n,
				const char *what)
{
	struct entry *s = malloc((n ? n : 1) * sizeof(*s));

	if (!s)
		return NULL;
	if (n)
		memcpy(s, e, n * sizeof(*s));
	qsort(s, n, sizeof(*s), entry_cmp);
	for (unsigned i = 1; i < n; i++) {
		target_load_work++;
		if (strcmp(s[i].name, s[i - 1].name) == 0)
			cfg_report(r, s[i].s, "%s \"%s\" is declared twice", what, s[i].name);
	}
	return s;
}

/* The targets' names: each needs one, and no name may be a pattern. */
static int index_targets(struct cfg_reader *r, struct target_file *f, const config_setting_t *list,
			 int n)
{
	f->t = calloc(n > 0 ? (size_t)n : 1, sizeof(*f->t));
	f->mark = calloc(n > 0 ? (size_t)n : 1, sizeof(*f->mark));
	if (!f->t || !f->mark)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
		const char *name = NULL;

		if (!cfg_want_type(r, s, "a target", CONFIG_TYPE_GROUP))
			continue;
		if (!config_setting_lookup_string(s, "name", &name) || !name[0]) {
			if (!config_setting_get_member(s, "name"))
				cfg_report(r, s, "a target needs a name");
			continue; /* a name of the wrong type: target_read says so */
		}
		if (target_is_pattern(name))
			cfg_report(r, config_setting_get_member(s, "name"),
				   "target name \"%s\": *, ? and [ are for patterns, not names",
				   name);
		f->t[f->n_t] = (struct entry){ name, s, f->n_t };
		f->n_t++;
	}
	f->t_sorted = sort_names(r, f->t, f->n_t, "target");
	return f->t_sorted ? 0 : -ENOMEM;
}

/* One group's own shape: its settings, its name, its list of members. */
static void index_group(struct cfg_reader *r, struct target_file *f, const config_setting_t *s,
			unsigned pos)
{
	static const char *const keys[] = { "name", "targets", NULL };
	const config_setting_t *members = config_setting_get_member(s, "targets");
	const char *name = NULL;

	cfg_check_members(r, s, keys, "a group");
	if (!config_setting_lookup_string(s, "name", &name) || !name[0]) {
		cfg_report(r, s, "a group needs a name");
		return;
	}
	if (find(f->t_sorted, f->n_t, name))
		cfg_report(r, s, "group \"%s\" has the name of a target; -t could not tell them "
				 "apart",
			   name);
	if (!members || config_setting_type(members) != CONFIG_TYPE_ARRAY ||
	    config_setting_length(members) == 0)
		cfg_report(r, members ? members : s,
			   "group \"%s\" needs targets = [ \"NAME\", ... ] (at least one)", name);
	else if (config_setting_length(members) > TARGET_MAX_GROUP)
		cfg_report(r, members, "group \"%s\" has %d targets; at most %d", name,
			   config_setting_length(members), TARGET_MAX_GROUP);
	else
		f->gd[f->n_g].members = members;
	f->g[f->n_g++] = (struct entry){ name, s, pos };
}

static int strp_cmp(const void *a, const void *b)
{
	target_load_work++;
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A group's members: strings that name a target or a group, or patterns
 * that match a target; none named twice. */
static void check_members(struct cfg_reader *r, struct target_file *f, unsigned gi)
{
	const config_setting_t *m = f->gd[gi].members;
	const char *gname = f->g[gi].name;
	int n = config_setting_length(m);
	const char **names = malloc((size_t)n * sizeof(*names));

	if (!names) {
		cfg_report(r, m, "out of memory");
		f->gd[gi].members = NULL;
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *s = config_setting_get_string_elem(m, (unsigned)i);
		bool matched = false;

		if (!s) {
			cfg_report(r, m, "group \"%s\": its targets are names, in quotes", gname);
			f->gd[gi].members = NULL;
			free(names);
			return;
		}
		names[i] = s;
		if (target_is_pattern(s)) {
			for (unsigned k = 0; k < f->n_t && !matched; k++, target_load_work++)
				matched = fnmatch(s, f->t[k].name, 0) == 0;
			if (!matched)
				cfg_report(r, m, "group \"%s\": the pattern \"%s\" matches no target",
					   gname, s);
		} else if (!find(f->t_sorted, f->n_t, s) && !find(f->g_sorted, f->n_g, s)) {
			cfg_report(r, m, "group \"%s\": no target or group named \"%s\"", gname, s);
		}
	}
	qsort(names, (size_t)n, sizeof(*names), strp_cmp);
	for (int i = 1; i < n; i++) {
		target_load_work++;
		if (strcmp(names[i], names[i - 1]) == 0 && (i < 2 || strcmp(names[i], names[i - 2])))
			cfg_report(r, m, "group \"%s\" names \"%s\" twice", gname, names[i]);
	}
	free(names);
}

/* The group called name, by its place in the file; -1 when none. */
static int group_index(const struct target_file *f, const char *name)
{
	const struct entry *e = find(f->g_sorted, f->n_g, name);

	return e ? (int)(e - f->g_sorted) : -1;
}

/* Depth-first through the groups that group gi includes: a group reached
 * again while it is on the path is a cycle, refused at the member list
 * that closes it. */
static void find_cycles(struct cfg_reader *r, struct target_file *f, unsigned gi)
{
	const config_setting_t *m = f->gd[gi].members;

	f->gd[gi].state = ON_PATH;
	for (int i = 0; m && i < config_setting_length(m); i++) {
		const char *s = config_setting_get_string_elem(m, (unsigned)i);
		int k = s && !target_is_pattern(s) ? group_index(f, s) : -1;
		unsigned j;

		if (k < 0)
			continue;
		j = f->g_sorted[k].pos;
		if (f->gd[j].state == ON_PATH) {
			cfg_report(r, m, "group \"%s\" includes group \"%s\", which includes \"%s\": "
					 "a cycle",
				   f->g[gi].name, s, f->g[gi].name);
			f->gd[gi].cyclic = f->gd[j].cyclic = true;
		} else if (f->gd[j].state == UNSEEN) {
			find_cycles(r, f, j);
		}
	}
	f->gd[gi].state = DONE;
}

static int index_groups(struct cfg_reader *r, struct target_file *f, const config_setting_t *root)
{
	const config_setting_t *list;
	int n = cfg_get_list(r, root, "groups", TARGET_MAX_GROUPS,
			     "( { name = ...; targets = [ ... ]; }, ... )", &list);

	f->g = calloc(n > 0 ? (size_t)n : 1, sizeof(*f->g));
	f->gd = calloc(n > 0 ? (size_t)n : 1, sizeof(*f->gd));
	if (!f->g || !f->gd)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);

		if (cfg_want_type(r, s, "each entry of groups", CONFIG_TYPE_GROUP))
			index_group(r, f, s, f->n_g);
	}
	f->g_sorted = sort_names(r, f->g, f->n_g, "group");
	if (!f->g_sorted)
		return -ENOMEM;
	for (unsigned i = 0; i < f->n_g; i++)
		if (f->gd[i].members)
			check_members(r, f, i);
	for (unsigned i = 0; i < f->n_g; i++)
		if (f->gd[i].state == UNSEEN)
			find_cycles(r, f, i);
	return 0;
}

/* Add target k to g unless this expansion has it already. */
static bool add_member(struct target_file *f, struct target_group *g, unsigned k, size_t *cap)
{
	if (f->mark[k] == f->mark_now)
		return true;
	f->mark[k] = f->mark_now;
	if (g->n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		unsigned *p = realloc(g->member, c * sizeof(*p));

		if (!p)
			return false;
		g->member = p;
		*cap = c;
	}
	g->member[g->n++] = k;
	return true;
}

/* Every target that pattern matches, in the file's order, into g. */
static bool add_matching(struct target_file *f, const char *pattern, struct target_group *g,
			 size_t *cap)
{
	for (unsigned t = 0; t < f->n_t; t++, target_load_work++)
		if (fnmatch(pattern, f->t[t].name, 0) == 0 && !add_member(f, g, t, cap))
			return false;
	return true;
}

/* Every target that group gi includes, in its order, each once. */
static bool expand(struct target_file *f, unsigned gi, struct target_group *g, size_t *cap)
{
	const config_setting_t *m = f->gd[gi].members;

	for (int i = 0; m && i < config_setting_length(m); i++) {
		const char *s = config_setting_get_string_elem(m, (unsigned)i);
		const struct entry *e;
		int k;

		if (target_is_pattern(s)) {
			if (!add_matching(f, s, g, cap))
				return false;
		} else if ((e = find(f->t_sorted, f->n_t, s)) != NULL) {
			if (!add_member(f, g, e->pos, cap))
				return false;
		} else if ((k = group_index(f, s)) >= 0 && !f->gd[f->g_sorted[k].pos].cyclic) {
			if (!expand(f, f->g_sorted[k].pos, g, cap))
				return false;
		}
	}
	return true;
}

/* The members of group gi (or, with gi < 0, the targets that pattern
 * matches) into g. */
static int pick_many(struct target_file *f, int gi, const char *pattern, struct target_group *g)
{
	size_t cap = 0;

	f->mark_now++;
	if (!(gi >= 0 ? expand(f, (unsigned)gi, g, &cap) : add_matching(f, pattern, g, &cap)))
		return -ENOMEM;
	return g->n ? 0 : -ESRCH;
}

static void file_free(struct target_file *f)
{
	if (!f)
		return;
	config_destroy(&f->cf);
	free(f->t);
	free(f->t_sorted);
	free(f->g);
	free(f->g_sorted);
	free(f->gd);
	free(f->mark);
	free(f);
}

void target_group_free(struct target_group *g)
{
	free(g->member);
	file_free(g->file);
	memset(g, 0, sizeof(*g));
}

static void ignore_problem(void *userdata, const char *file, int line, const char *msg)
{
	(void)userdata;
	(void)file;
	(void)line;
	(void)msg;
}

void target_group_get(const struct target_group *g, unsigned i, struct target *t)
{
	struct cfg_reader r;

	cfg_reader_init(&r, "");
	target_read(&r, g->file->t[g->member[i]].s, t);
	cfg_reader_flush(&r, ignore_problem, NULL); /* reported when it was picked */
}

const char *target_group_member(const struct target_group *g, unsigned i)
{
	return g->file->t[g->member[i]].name;
}

/* names->group and group_size: every group's name and size. */
static void list_groups(struct target_file *f, struct target_names *names)
{
	for (unsigned i = 0; i < f->n_g && names->n_groups < TARGET_MAX_NAMES; i++) {
		struct target_group g = { .n = 0 };

		/* A cyclic group is refused: it has no members. */
		if (f->gd[i].cyclic || pick_many(f, (int)i, NULL, &g) == -ENOMEM)
			g.n = 0;
		snprintf(names->group[names->n_groups], sizeof(names->group[0]), "%s", f->g[i].name);
		names->group_size[names->n_groups++] = g.n;
		free(g.member);
	}
}

/* The picked group's (or pattern's) members, each checked as a single
 * target would be: 0 or -ENOMEM. */
static int read_members(struct cfg_reader *r, struct target_file *f, int gi, const char *want,
			struct target_group *g, bool already_read)
{
	struct target *t = malloc(sizeof(*t));
	int e;

	if (!t)
		return -ENOMEM;
	snprintf(g->name, sizeof(g->name), "%s", want);
	e = pick_many(f, gi, want, g);
	for (unsigned i = 0; e == 0 && !already_read && i < g->n; i++)
		target_read(r, f->t[g->member[i]].s, t);
	if (e == 0 && g->n > TARGET_MAX_GROUP)
		cfg_report(r, gi >= 0 ? f->g[gi].s : NULL, "\"%s\" has %u targets; at most %d", want,
			   g->n, TARGET_MAX_GROUP);
	free(t);
	return e;
}

/* Read and check every target (check), with its key file. */
static void read_all(struct cfg_reader *r, struct target_file *f)
{
	struct target *t = malloc(sizeof(*t));

	if (!t) {
		cfg_report(r, NULL, "out of memory");
		return;
	}
	for (unsigned i = 0; i < f->n_t; i++) {
		target_read(r, f->t[i].s, t);
		if (t->key_file[0])
			target_check_key(r, f->t[i].s, t);
	}
	free(t);
}

/* What name picks: 0 for a target (into out), 1 for a group or pattern
 * (into group), -ESRCH for nothing; -ENOMEM. */
static int pick(struct cfg_reader *r, struct target_file *f, const char *want, bool check_all,
		struct target *out, struct target_group *group)
{
	const struct entry *e;
	int gi, res;

	if (!want && f->n_t == 1)
		e = &f->t[0];
	else if (!want)
		return f->n_t > 1 ? -ESRCH : 0;
	else
		e = target_is_pattern(want) ? NULL : find(f->t_sorted, f->n_t, want);
	if (e) {
		if (!check_all)
			target_read(r, e->s, out);
		else {
			struct cfg_reader quiet;

			cfg_reader_init(&quiet, r->path);
			target_read(&quiet, e->s, out);
			cfg_reader_flush(&quiet, ignore_problem, NULL); /* read_all reports */
		}
		return 0;
	}
	gi = target_is_pattern(want) ? -1 : group_index(f, want);
	if (gi >= 0)
		gi = (int)f->g_sorted[gi].pos;
	if ((gi < 0 && !target_is_pattern(want)) || !group)
		return -ESRCH;
	if (gi >= 0 && (f->gd[gi].cyclic || !f->gd[gi].members))
		return 1; /* reported; no members */
	res = read_members(r, f, gi, want, group, check_all);
	return res == 0 ? 1 : res;
}

/* The file's header: its permissions, its syntax, the settings at its top
 * level; the default into *def. */
static int open_file(struct cfg_reader *r, struct target_file *f, const char **def_name,
		     const config_setting_t **def)
{
	static const char *const keys[] = { "default", "targets", "groups", NULL };
	const config_setting_t *root;

	if (target_check_file(r, r->path) == -EPERM)
		return -EPERM;
	config_init(&f->cf);
	if (cfg_read_file(r, &f->cf) < 0)
		return -EINVAL;
	root = config_root_setting(&f->cf);
	cfg_check_members(r, root, keys, NULL);
	*def = config_setting_get_member(root, "default");
	if (*def && config_setting_type(*def) != CONFIG_TYPE_STRING) {
		cfg_report(r, *def, "default must be a string (a target's name)");
		*def = NULL;
	}
	*def_name = *def ? config_setting_get_string(*def) : NULL;
	return 0;
}

int target_load(const char *path, const char *name, struct target *out, cfg_report_fn report,
		bool check_all, struct target_names *names, struct target_group *group)
{
	const config_setting_t *list, *def = NULL;
	const char *def_name = NULL, *want;
	struct target_file *f;
	struct cfg_reader r;
	int n, res = -ENOMEM;

	if (names)
		memset(names, 0, sizeof(*names));
	if (group)
		memset(group, 0, sizeof(*group));
	if (access(path, F_OK) < 0)
		return -ENOENT;
	if (!(f = calloc(1, sizeof(*f))))
		return -ENOMEM;
	cfg_reader_init(&r, path);
	res = open_file(&r, f, &def_name, &def);
	if (res < 0) {
		cfg_reader_flush(&r, report, NULL);
		if (res == -EPERM)
			free(f);
		else
			file_free(f);
		return res;
	}
	want = name ? name : def_name;
	n = cfg_get_list(&r, config_root_setting(&f->cf), "targets", TARGET_MAX_TARGETS,
			 "( { name = ...; ... }, ... )", &list);
	if (index_targets(&r, f, list, n) < 0 || index_groups(&r, f, config_root_setting(&f->cf)) < 0)
		goto out;
	if (names) {
		target_list_names(list, n, names);
		names->n_all = f->n_t;
		names->n_groups_all = f->n_g;
		snprintf(names->def, sizeof(names->def), "%s", def_name ? def_name : "");
		list_groups(f, names);
	}
	if (check_all)
		read_all(&r, f);
	res = pick(&r, f, want, check_all, out, group);
	if (res == -ESRCH && def_name && !name)
		cfg_report(&r, def, "default = \"%s\": no such target or group", def_name);
	if (res == -ESRCH && check_all && !name)
		res = 0; /* check without -t: the whole file, whatever the default */
out:
	if (res == -ENOMEM)
		cfg_report(&r, NULL, "out of memory");
	if (cfg_reader_flush(&r, report, NULL) > 0)
		res = -EINVAL;
	if (res == 1) {
		group->file = f;
		return 1;
	}
	if (group) {
		free(group->member);
		memset(group, 0, sizeof(*group));
	}
	file_free(f);
	return res;
}
