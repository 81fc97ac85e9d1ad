// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "events/sink.h"
#include "util/log.h"

/*
 * Waking the writer costs a context switch and a write(2) (~70-90 us of the writer's CPU
 * per wake-up, measured on this VM appending to a file): at 50 wake-ups a second it was 1
 * ms of CPU per second, +30 % of sonde's own cost per request at 4,700 req/s, and still
 * 0.7 ms at 10. So the producer wakes it at most every KICK_NS, or at once when the ring is
 * a quarter full, and it wakes by itself every IDLE_S for lines pushed just after a
 * wake-up: a line reaches the file within about a second (two at most), and an idle sink
 * costs one wake-up a second.
 */
#define KICK_NS 1000000000LL
#define IDLE_S 1
#define DRAIN_NS 1000000000LL /* at close, how long queued lines may take */

static volatile sig_atomic_t reopen_requested;
static sem_t *reopen_wake; /* the open sink's, for the signal handler (sem_post is safe) */

struct sink {
	char *path; /* NULL: stdout */
	int fd;
	pthread_t thread;
	_Atomic bool stop;
	sem_t wake;
	int64_t last_kick;	     /* producer's own */
	_Atomic uint64_t head, tail; /* bytes ever queued / ever taken by the writer */
	_Atomic uint64_t lines, dropped_full, dropped_io, written, reopens;
	char ring[SINK_RING_BYTES];
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int open_path(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);
}

static void reopen(struct sink *s)
{
	int fd;

	reopen_requested = 0;
	if (!s->path)
		return;
	fd = open_path(s->path);
	if (fd < 0) {
		log_error("events: cannot reopen %s: %s; still writing to the file open before",
			  s->path, strerror(errno));
		return;
	}
	close(s->fd);
	s->fd = fd;
	atomic_fetch_add_explicit(&s->reopens, 1, memory_order_relaxed);
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t k = 0;
	const char *e = p + n;

	while ((p = memchr(p, '\n', (size_t)(e - p)))) {
		k++;
		p++;
	}
	return k;
}

/* Writes some of the queued bytes: 1 when it made progress, 0 when it had to wait. */
static int write_some(struct sink *s, uint64_t tail, uint64_t head)
{
	size_t off = tail % SINK_RING_BYTES, n = head - tail;
	struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
	ssize_t w;

	if (n > SINK_RING_BYTES - off)
		n = SINK_RING_BYTES - off;
	w = write(s->fd, s->ring + off, n);
	if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
		poll(&pfd, 1, 100); /* a full pipe or a slow device: the ring absorbs it */
		return 0;
	}
	if (w < 0) {
		/* the reader went away or the disk is full: these lines are lost, not retried */
		atomic_fetch_add_explicit(&s->dropped_io, count_lines(s->ring + off, n),
					  memory_order_relaxed);
		w = (ssize_t)n;
	} else {
		atomic_fetch_add_explicit(&s->written, (uint64_t)w, memory_order_relaxed);
	}
	atomic_store_explicit(&s->tail, tail + (uint64_t)w, memory_order_release);
	return 1;
}

static void *writer_main(void *arg)
{
	struct sink *s = arg;
	int64_t deadline = 0, now;
	struct timespec until;
	uint64_t tail, head;

	for (;;) {
		now = clock_ns(CLOCK_MONOTONIC);
		if (reopen_requested)
			reopen(s);
		tail = atomic_load_explicit(&s->tail, memory_order_relaxed);
		head = atomic_load_explicit(&s->head, memory_order_acquire);
		if (atomic_load(&s->stop)) {
			if (!deadline)
				deadline = now + DRAIN_NS;
			if (head == tail || now >= deadline)
				return NULL;
		}
		if (head == tail) {
			clock_gettime(CLOCK_REALTIME, &until); /* sem_timedwait's clock */
			until.tv_sec += IDLE_S;
			sem_timedwait(&s->wake, &until);
		} else
			write_some(s, tail, head);
	}
}

/*
 * The sink and its ring, mapped with every page present (zeroed). Faulted in as lines
 * reached them, the ring's pages cost a page fault every ~11 lines until its first wrap
 * (~3,000 lines): ~11 us each on this VM, which made the first minutes of a sink (and every
 * short benchmark window) pay ~1 us per line in the event loop.
 */
static struct sink *sink_map(void)
{
	void *p = mmap(NULL, sizeof(struct sink), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void sink_unmap(struct sink *s)
{
	munmap(s, sizeof(*s));
}

struct sink *sink_open(const char *path)
{
	struct sink *s = sink_map();
	int err;

	if (!s)
		return NULL;
	s->fd = -1;
	if (strcmp(path, "-")) {
		s->path = strdup(path);
		if (!s->path || (s->fd = open_path(path)) < 0)
			goto fail;
	} else if ((s->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)) < 0) {
		goto fail;
	}
	sem_init(&s->wake, 0, 0);
	err = pthread_create(&s->thread, NULL, writer_main, s);
	if (err) {
		sem_destroy(&s->wake);
		errno = err;
		goto fail;
	}
	reopen_wake = &s->wake;
	return s;
fail:
	err = errno;
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	sink_unmap(s);
	errno = err;
	return NULL;
}

void sink_close(struct sink *s)
{
	if (!s)
		return;
	reopen_wake = NULL;
	atomic_store(&s->stop, true);
	sem_post(&s->wake);
	pthread_join(s->thread, NULL);
	sem_destroy(&s->wake);
	close(s->fd);
	free(s->path);
	sink_unmap(s);
}

int sink_push(struct sink *s, const char *line, size_t len)
{
	uint64_t head = atomic_load_explicit(&s->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&s->tail, memory_order_acquire);
	size_t off = head % SINK_RING_BYTES, first;
	int64_t now;

	if (len > SINK_RING_BYTES - (head - tail)) {
		atomic_fetch_add_explicit(&s->dropped_full, 1, memory_order_relaxed);
		return -ENOSPC;
	}
	first = SINK_RING_BYTES - off < len ? SINK_RING_BYTES - off : len;
	memcpy(s->ring + off, line, first);
	memcpy(s->ring, line + first, len - first);
	atomic_store_explicit(&s->head, head + len, memory_order_release);
	atomic_fetch_add_explicit(&s->lines, 1, memory_order_relaxed);
	now = clock_ns(CLOCK_MONOTONIC);
	if (now - s->last_kick >= KICK_NS || head + len - tail > SINK_RING_BYTES / 4) {
		s->last_kick = now;
		sem_post(&s->wake);
	}
	return 0;
}

void sink_reopen_request(void)
{
	reopen_requested = 1;
	if (reopen_wake)
		sem_post(reopen_wake);
}

void sink_counts(const struct sink *s, struct sink_counts *out)
{
	struct sink *m = (struct sink *)s; /* atomic loads take non-const pointers */

	out->lines = atomic_load_explicit(&m->lines, memory_order_relaxed);
	out->dropped_full = atomic_load_explicit(&m->dropped_full, memory_order_relaxed);
	out->dropped_io = atomic_load_explicit(&m->dropped_io, memory_order_relaxed);
	out->written = atomic_load_explicit(&m->written, memory_order_relaxed);
	out->reopens = atomic_load_explicit(&m->reopens, memory_order_relaxed);
}
