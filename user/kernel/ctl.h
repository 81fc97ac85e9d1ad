/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the stages after the kernel may ask of it: select or unselect a process and probe its
 * TLS library (procs/), stop reporting a connection of no parsed protocol (consumer/). The loader provides the
 * real one (loader_ctl); unit tests provide fakes. No stage holds a pointer to the loader.
 */
#ifndef SONDE_KERNEL_CTL_H
#define SONDE_KERNEL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kernel_ctl {
	void *ctx;
	/* Sets or clears tgid's bit in the allow bitmap. 0 or -errno. */
	int (*allow)(void *ctx, uint32_t tgid, bool on);
	/* Tells the kernel to stop reporting a connection's reads and writes (its close is
	 * still reported). Connection ids are never reused, so a hint cannot reach a later
	 * socket. *prev: the connection whose hint it replaced (its slot's owner), 0 if none.
	 * 0 or -errno. */
	int (*ignore_conn)(void *ctx, uint64_t id, uint64_t *prev);
	/* Records (or forgets) that tgid owns a TCP socket listening on port in the network
	 * namespace whose inode is netns, so TCP health attributes accepted connections. */
	int (*listener)(void *ctx, uint32_t netns, uint16_t port, uint32_t tgid, bool on);
	/* A process was selected (on), re-examined after an exec (on), or left (off): find
	 * and probe its TLS library, or detach the probes. 0 or -errno. */
	/* nstgid: its pid in its own namespace (0: unknown), for the log lines */
	int (*tls_track)(void *ctx, uint32_t tgid, uint32_t nstgid, bool on);
	/* Whether tgid's TLS library is probed: its TLS connections will show plaintext. */
	bool (*tls_probed)(void *ctx, uint32_t tgid);
};

/* Each accepts a NULL ctl or a NULL operation: nothing to do, returns 0. */
static inline int kctl_allow(const struct kernel_ctl *k, uint32_t tgid, bool on)
{
	return k && k->allow ? k->allow(k->ctx, tgid, on) : 0;
}

static inline int kctl_ignore_conn(const struct kernel_ctl *k, uint64_t id, uint64_t *prev)
{
	*prev = 0;
	return k && k->ignore_conn ? k->ignore_conn(k->ctx, id, prev) : 0;
}

static inline int kctl_listener(const struct kernel_ctl *k, uint32_t netns, uint16_t port,
				uint32_t tgid, bool on)
{
	return k && k->listener ? k->listener(k->ctx, netns, port, tgid, on) : 0;
}

static inline int kctl_tls_track(const struct kernel_ctl *k, uint32_t tgid, uint32_t nstgid,
				 bool on)
{
	return k && k->tls_track ? k->tls_track(k->ctx, tgid, nstgid, on) : 0;
}

static inline bool kctl_tls_probed(const struct kernel_ctl *k, uint32_t tgid)
{
	return k && k->tls_probed ? k->tls_probed(k->ctx, tgid) : false;
}

#endif
