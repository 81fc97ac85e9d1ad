// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kernel/tls_inspect.h"

struct job {
	struct tls_file *tf;
	int fd;
	struct job *next;
};

/* Two FIFO lists under one lock: to do, and done (until the event loop takes them). */
struct inspector {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;
	tls_inspect_fn fn;
	struct job *todo, **todo_tail;
	struct job *done, **done_tail;
	bool stop;
};

static double ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void *inspector_main(void *arg)
{
	struct inspector *in = arg;

	pthread_mutex_lock(&in->lock);
	for (;;) {
		struct job *j = in->todo;
		struct timespec t0;
		char path[64];

		if (in->stop)
			break;
		if (!j) {
			pthread_cond_wait(&in->work, &in->lock);
			continue;
		}
		in->todo = j->next;
		if (!in->todo)
			in->todo_tail = &in->todo;
		pthread_mutex_unlock(&in->lock);
		/* the very file that was asked about, whatever happened to its path since */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", j->fd);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		in->fn(j->tf, path);
		j->tf->took_ms = ms_since(&t0);
		close(j->fd);
		j->fd = -1;
		j->next = NULL;
		pthread_mutex_lock(&in->lock);
		*in->done_tail = j;
		in->done_tail = &j->next;
	}
	pthread_mutex_unlock(&in->lock);
	return NULL;
}

struct inspector *inspector_start(tls_inspect_fn fn)
{
	struct inspector *in = calloc(1, sizeof(*in));
	int err;

	if (!in)
		return NULL;
	in->fn = fn;
	in->todo_tail = &in->todo;
	in->done_tail = &in->done;
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->work, NULL);
	err = pthread_create(&in->thread, NULL, inspector_main, in);
	if (err) {
		pthread_cond_destroy(&in->work);
		pthread_mutex_destroy(&in->lock);
		free(in);
		errno = err;
		return NULL;
	}
	pthread_setname_np(in->thread, "sonde-inspect");
	return in;
}

bool inspector_queue(struct inspector *in, struct tls_file *tf, int fd)
{
	struct job *j = in ? malloc(sizeof(*j)) : NULL;

	if (!j)
		return false;
	*j = (struct job){ .tf = tf, .fd = fd };
	pthread_mutex_lock(&in->lock);
	*in->todo_tail = j;
	in->todo_tail = &j->next;
	pthread_cond_signal(&in->work);
	pthread_mutex_unlock(&in->lock);
	return true;
}

size_t inspector_done(struct inspector *in, struct tls_file **out, size_t n)
{
	size_t k = 0;

	if (!in)
		return 0;
	pthread_mutex_lock(&in->lock);
	while (k < n && in->done) {
		struct job *j = in->done;

		in->done = j->next;
		out[k++] = j->tf;
		free(j);
	}
	if (!in->done)
		in->done_tail = &in->done;
	pthread_mutex_unlock(&in->lock);
	return k;
}

static void free_jobs(struct job *j)
{
	while (j) {
		struct job *next = j->next;

		if (j->fd >= 0)
			close(j->fd);
		free(j->tf);
		free(j);
		j = next;
	}
}

void inspector_stop(struct inspector *in)
{
	if (!in)
		return;
	pthread_mutex_lock(&in->lock);
	in->stop = true;
	pthread_cond_signal(&in->work);
	pthread_mutex_unlock(&in->lock);
	pthread_join(in->thread, NULL);
	free_jobs(in->todo);
	free_jobs(in->done);
	pthread_cond_destroy(&in->work);
	pthread_mutex_destroy(&in->lock);
	free(in);
}
