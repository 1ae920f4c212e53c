/* SPDX-License-Identifier: MIT */
#include "limiter.h"
#include "usec.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One backoff counter: the times of recent failures, and the backoff. */
struct backoff {
	uint64_t failures[CONFIG_MAX_BACKOFF_FAILURES]; /* ring of recent failure times */
	unsigned n_failures, head;
	unsigned level;          /* how many times it has been backed off in a row */
	uint64_t blocked_until;
};

struct source {
	struct source_key key;
	unsigned conns;
	struct backoff whole;    /* failures with no usable client id */
	uint64_t last_seen;
};

/* A (source, known client id) pair: failures that claimed that id. */
struct pair {
	struct source_key key;
	char id[SIOT_MAX_ID + 1];
	struct backoff b;
	uint64_t last_seen;
};

struct running {
	char *name;
	unsigned count;
};

struct limiter {
	struct source *sources;
	size_t n_sources;
	struct pair *pairs;
	size_t n_pairs;
	unsigned total;
	struct running *running;
	size_t n_running;
	/* The broker's scan rate (GCRA): when the next scan is due at the
	 * steady rate; up to a second's worth may come at once. */
	uint64_t mqtt_scan_tat;
};

void source_key_from_sockaddr(const struct sockaddr_storage *sa, uid_t uid,
			      struct source_key *key)
{
	memset(key, 0, sizeof(*key));
	switch (sa->ss_family) {
	case AF_INET:
		key->family = AF_INET;
		memcpy(key->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return;
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			key->family = AF_INET;
			memcpy(key->addr, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			key->family = AF_INET6;
			memcpy(key->addr, in6->sin6_addr.s6_addr, 8); /* the /64 */
		}
		return;
	}
	default:
		key->family = AF_UNIX;
		memcpy(key->addr, &uid, sizeof(uid));
		return;
	}
}

struct limiter *limiter_new(void)
{
	return calloc(1, sizeof(struct limiter));
}

void limiter_free(struct limiter *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_running; i++)
		free(l->running[i].name);
	free(l->running);
	free(l->sources);
	free(l->pairs);
	free(l);
}

static bool same(const struct source_key *a, const struct source_key *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static struct source *find(const struct limiter *l, const struct source_key *key)
{
	for (size_t i = 0; i < l->n_sources; i++)
		if (same(&l->sources[i].key, key))
			return &l->sources[i];
	return NULL;
}

/* Forget one source with no connection: the one seen longest ago, but
 * never one that is backing off while another idle source remains. */
static bool evict(struct limiter *l, uint64_t now)
{
	size_t victim = SIZE_MAX;
	bool victim_blocked = true;

	for (size_t i = 0; i < l->n_sources; i++) {
		const struct source *s = &l->sources[i];
		bool blocked = now < s->whole.blocked_until;

		if (s->conns > 0)
			continue;
		if (victim == SIZE_MAX || (victim_blocked && !blocked) ||
		    (blocked == victim_blocked && s->last_seen < l->sources[victim].last_seen)) {
			victim = i;
			victim_blocked = blocked;
		}
	}
	if (victim == SIZE_MAX)
		return false;
	l->sources[victim] = l->sources[--l->n_sources];
	return true;
}

static struct source *find_or_add(struct limiter *l, const struct source_key *key, uint64_t now)
{
	struct source *s = find(l, key);

	if (s)
		return s;
	if (!l->sources) {
		l->sources = calloc(LIMITER_MAX_SOURCES, sizeof(struct source));
		if (!l->sources)
			return NULL;
	}
	if (l->n_sources == LIMITER_MAX_SOURCES && !evict(l, now))
		return NULL;
	s = &l->sources[l->n_sources++];
	memset(s, 0, sizeof(*s));
	s->key = *key;
	s->last_seen = now;
	return s;
}

int limiter_conn_open(struct limiter *l, const struct source_key *key, unsigned max_total,
		      unsigned max_per_source, uint64_t now)
{
	struct source *s;

	if (l->total >= max_total)
		return -ENOSPC;
	s = find_or_add(l, key, now);
	if (!s || s->conns >= max_per_source)
		return -EBUSY;
	s->last_seen = now;
	s->conns++;
	l->total++;
	return 0;
}

void limiter_conn_close(struct limiter *l, const struct source_key *key)
{
	struct source *s = find(l, key);

	if (s && s->conns > 0) {
		s->conns--;
		l->total--;
	}
}

static struct pair *find_pair(const struct limiter *l, const struct source_key *key,
			      const char *id)
{
	for (size_t i = 0; i < l->n_pairs; i++)
		if (same(&l->pairs[i].key, key) && strcmp(l->pairs[i].id, id) == 0)
			return &l->pairs[i];
	return NULL;
}

/* Forget the pair seen longest ago, one that is backing off only when
 * every pair is. */
static void evict_pair(struct limiter *l, uint64_t now)
{
	size_t victim = 0;
	bool victim_blocked = now < l->pairs[0].b.blocked_until;

	for (size_t i = 1; i < l->n_pairs; i++) {
		bool blocked = now < l->pairs[i].b.blocked_until;

		if ((victim_blocked && !blocked) ||
		    (blocked == victim_blocked && l->pairs[i].last_seen < l->pairs[victim].last_seen)) {
			victim = i;
			victim_blocked = blocked;
		}
	}
	l->pairs[victim] = l->pairs[--l->n_pairs];
}

static struct pair *find_or_add_pair(struct limiter *l, const struct source_key *key,
				     const char *id, uint64_t now)
{
	struct pair *p = find_pair(l, key, id);

	if (p || strlen(id) > SIOT_MAX_ID)
		return p;
	if (!l->pairs) {
		l->pairs = calloc(LIMITER_MAX_PAIRS, sizeof(struct pair));
		if (!l->pairs)
			return NULL;
	}
	if (l->n_pairs == LIMITER_MAX_PAIRS)
		evict_pair(l, now);
	p = &l->pairs[l->n_pairs++];
	memset(p, 0, sizeof(*p));
	p->key = *key;
	snprintf(p->id, sizeof(p->id), "%s", id);
	return p;
}

unsigned limiter_conns_of(const struct limiter *l, const struct source_key *key)
{
	const struct source *s = find(l, key);

	return s ? s->conns : 0;
}

bool limiter_backing_off(const struct limiter *l, const struct source_key *key,
			 const char *client_id, uint64_t now)
{
	const struct source *s;

	if (key->family == NET_FAMILY_MQTT)
		return false; /* anyone may publish anything: see limiter.h */
	s = find(l, key);
	const struct pair *p = client_id ? find_pair(l, key, client_id) : NULL;

	return (s && now < s->whole.blocked_until) || (p && now < p->b.blocked_until);
}

/* Count a failure at now against a counter that backs off after
 * `threshold` failures within the window. */
static void backoff_fail(struct backoff *k, unsigned threshold, const struct backoff_config *b,
			 uint64_t now)
{
	uint64_t oldest;
	double usec;

	if (k->head >= threshold || k->n_failures > threshold) {
		/* A reload changed the threshold: start the count again. */
		k->head = 0;
		k->n_failures = 0;
	}
	k->failures[k->head] = now;
	k->head = (k->head + 1) % threshold;
	if (k->n_failures < threshold)
		k->n_failures++;
	if (k->n_failures < threshold) {
		k->level = 0;
		return;
	}
	/* The ring holds the last `threshold` times; head is the oldest. */
	oldest = k->failures[k->head];
	if (now - oldest > b->window_usec) {
		k->level = 0;
		return;
	}
	k->level++;
	usec = ldexp((double)b->base_usec, (int)(k->level < 40 ? k->level - 1 : 39));
	if (usec > (double)b->max_usec)
		usec = (double)b->max_usec;
	k->blocked_until = now + (uint64_t)usec;
}

void limiter_note_failure(struct limiter *l, const struct source_key *key, const char *client_id,
			  const struct backoff_config *b, uint64_t now)
{
	struct source *s;
	struct pair *p;

	if (key->family == NET_FAMILY_MQTT)
		return; /* a stranger's failure must not back anyone off */
	s = find_or_add(l, key, now);
	if (s)
		s->last_seen = now;
	if (!client_id) {
		if (s)
			backoff_fail(&s->whole, b->source_failures, b, now);
		return;
	}
	p = find_or_add_pair(l, key, client_id, now);
	if (p) {
		p->last_seen = now;
		backoff_fail(&p->b, b->failures, b, now);
	}
}

void limiter_note_success(struct limiter *l, const struct source_key *key, const char *client_id,
			  uint64_t now)
{
	struct source *s = find(l, key);
	struct pair *p = find_pair(l, key, client_id);

	if (s)
		s->last_seen = now;
	if (p) {
		p->last_seen = now;
		memset(&p->b, 0, sizeof(p->b));
	}
}

bool limiter_command_available(const struct limiter *l, const char *name, unsigned max)
{
	for (size_t i = 0; i < l->n_running; i++)
		if (strcmp(l->running[i].name, name) == 0)
			return l->running[i].count < max;
	return max > 0;
}

int limiter_command_acquire(struct limiter *l, const char *name, unsigned max)
{
	struct running *r;

	for (size_t i = 0; i < l->n_running; i++) {
		if (strcmp(l->running[i].name, name) == 0) {
			if (l->running[i].count >= max)
				return -EBUSY;
			l->running[i].count++;
			return 0;
		}
	}
	if (max == 0)
		return -EBUSY;
	r = realloc(l->running, (l->n_running + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	l->running = r;
	r[l->n_running].name = strdup(name);
	if (!r[l->n_running].name)
		return -ENOMEM;
	r[l->n_running].count = 1;
	l->n_running++;
	return 0;
}

void limiter_command_release(struct limiter *l, const char *name)
{
	for (size_t i = 0; i < l->n_running; i++) {
		if (strcmp(l->running[i].name, name) == 0) {
			if (--l->running[i].count == 0) {
				free(l->running[i].name);
				l->running[i] = l->running[--l->n_running];
			}
			return;
		}
	}
}

/* The steady interval between scans at rate per second, in usec. */
static uint64_t scan_interval(unsigned rate)
{
	return USEC_PER_SEC / (rate ? rate : 1);
}

bool limiter_scan_allowed(const struct limiter *l, const struct source_key *key, unsigned rate,
			  uint64_t now)
{
	uint64_t t = scan_interval(rate);
	uint64_t tat = l->mqtt_scan_tat > now ? l->mqtt_scan_tat : now;

	if (key->family != NET_FAMILY_MQTT)
		return true;
	return tat - now <= (uint64_t)(rate ? rate - 1 : 0) * t;
}

void limiter_note_scan(struct limiter *l, const struct source_key *key, unsigned rate,
		       uint64_t now)
{
	if (key->family != NET_FAMILY_MQTT)
		return;
	l->mqtt_scan_tat = (l->mqtt_scan_tat > now ? l->mqtt_scan_tat : now) + scan_interval(rate);
}
