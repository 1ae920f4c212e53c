/* SPDX-License-Identifier: MIT */
/*
 * An intrusive, circular, doubly linked list: embed a struct list_node in
 * the element and recover the element with list_entry.  An empty list is a
 * head that points at itself (list_init).  No allocation; O(1) removal.
 */
#ifndef SIOT_LIST_H
#define SIOT_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_node {
	struct list_node *prev, *next;
};

#define list_entry(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))

static inline void list_init(struct list_node *head)
{
	head->prev = head->next = head;
}

static inline bool list_empty(const struct list_node *head)
{
	return head->next == head;
}

/* Insert n at the front of the list. */
static inline void list_add(struct list_node *head, struct list_node *n)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

/* Insert n at the back of the list. */
static inline void list_add_tail(struct list_node *head, struct list_node *n)
{
	list_add(head->prev, n);
}

/* Unlink n; it is left pointing at itself, so a second list_del is harmless. */
static inline void list_del(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

/* Iterate over every node; the body may list_del (and free) the current one. */
#define list_for_each_safe(pos, tmp, head)                                                    \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                       \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
