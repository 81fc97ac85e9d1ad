// SPDX-License-Identifier: GPL-2.0-only
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "kernel/link_reaper.h"

/* Destroying a uprobe link waits for the kernel's grace periods: ~70 ms a link measured
 * here under load, 5 s at SIGTERM for four Go processes' 68 links. Links destroyed from
 * several threads at once wait for the same grace periods, so shutdown pays about one. */
#define DETACH_THREADS 16

struct detach_batch {
	struct bpf_link **links;
	size_t n, next;
};

static void *detach_worker(void *arg)
{
	struct detach_batch *b = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED)) < b->n)
		bpf_link__destroy(b->links[i]);
	return NULL;
}

/* Destroys n links, from up to DETACH_THREADS threads (one per 4 links). */
void destroy_links(struct bpf_link **links, size_t n)
{
	struct detach_batch b = { .links = links, .n = n };
	pthread_t th[DETACH_THREADS];
	size_t started = 0;

	while (started < DETACH_THREADS && started * 4 < b.n &&
	       !pthread_create(&th[started], NULL, detach_worker, &b))
		started++;
	detach_worker(&b);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

/*
 * The reaper: a process that exits or leaves the selection hands its links to a thread of
 * their own, so that the consumer does not stall for their grace periods (a Go process has
 * 17 links: over a second, while events pile up in the ring). Until they are destroyed the
 * probes stay in the kernel, inert: the process's bit and go_procs entry are cleared at
 * once, and it has exited or no longer maps the file. A process probed again first waits
 * for its old links to be gone, so that no call is ever reported twice.
 */
struct reap_batch {
	uint32_t tgid;
	struct bpf_link **links;
	size_t n;
	struct reap_batch *next;
};

struct reaper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work; /* a batch queued, or stop */
	pthread_cond_t done; /* a batch destroyed */
	struct reap_batch *head, **tail;
	struct reap_batch *busy; /* being destroyed, out of the queue */
	bool stop;
};

static void *reaper_main(void *arg)
{
	struct reaper *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct reap_batch *b = r->head;

		if (!b) {
			if (r->stop)
				break;
			pthread_cond_wait(&r->work, &r->lock);
			continue;
		}
		r->head = b->next;
		if (!r->head)
			r->tail = &r->head;
		r->busy = b;
		pthread_mutex_unlock(&r->lock);
		destroy_links(b->links, b->n);
		pthread_mutex_lock(&r->lock);
		r->busy = NULL;
		free(b->links);
		free(b);
		pthread_cond_broadcast(&r->done);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct reaper *reaper_start(void)
{
	struct reaper *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->work, NULL);
	pthread_cond_init(&r->done, NULL);
	r->tail = &r->head;
	if (pthread_create(&r->thread, NULL, reaper_main, r)) {
		pthread_cond_destroy(&r->done);
		pthread_cond_destroy(&r->work);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return NULL;
	}
	return r;
}

/* Hands n links of tgid to the reaper; false when it cannot take them (none running, no
 * memory): the caller destroys them. */
bool reaper_take(struct reaper *r, uint32_t tgid, struct bpf_link **links, size_t n)
{
	struct reap_batch *b = r ? malloc(sizeof(*b)) : NULL;

	if (!b)
		return false;
	*b = (struct reap_batch){ .tgid = tgid, .links = links, .n = n };
	pthread_mutex_lock(&r->lock);
	*r->tail = b;
	r->tail = &b->next;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
	return true;
}

static bool reaper_has(const struct reaper *r, uint32_t tgid)
{
	if (r->busy && r->busy->tgid == tgid)
		return true;
	for (const struct reap_batch *b = r->head; b; b = b->next)
		if (b->tgid == tgid)
			return true;
	return false;
}

/* Returns once no link of tgid waits to be destroyed. */
void reaper_wait(struct reaper *r, uint32_t tgid)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	while (reaper_has(r, tgid))
		pthread_cond_wait(&r->done, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

/* Stops the reaper; the links still queued are returned in *links (n of them, to destroy;
 * NULL when none), the batch in hand destroyed first. */
void reaper_stop(struct reaper *r, struct bpf_link ***links, size_t *n)
{
	struct reap_batch *b, *next;
	size_t k = 0;

	*links = NULL;
	*n = 0;
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	b = r->head;
	r->head = NULL;
	r->tail = &r->head;
	r->stop = true;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	for (struct reap_batch *q = b; q; q = q->next)
		*n += q->n;
	if (*n && !(*links = malloc(*n * sizeof(**links))))
		*n = 0;
	for (; b; b = next) {
		next = b->next;
		if (*links)
			memcpy(*links + k, b->links, b->n * sizeof(**links));
		else
			destroy_links(b->links, b->n);
		k += b->n;
		free(b->links);
		free(b);
	}
	pthread_cond_destroy(&r->done);
	pthread_cond_destroy(&r->work);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
