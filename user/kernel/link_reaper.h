/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Destroying uprobe links off the event loop. Destroying a link waits for the kernel's
 * grace periods (~70 ms a link measured here under load): links destroyed from several
 * threads at once wait for the same ones, and a process that exits or leaves the
 * selection hands its links to the reaper, a thread of their own, so that the consumer
 * does not stall while events pile up in the ring. Until they are destroyed its probes
 * stay in the kernel, inert (uprobes.c clears the process's bits and map entries at once).
 * In: links of a tgid (uprobes.c). Out: nothing; reaper_wait() orders a re-probe after.
 */
#ifndef SONDE_KERNEL_LINK_REAPER_H
#define SONDE_KERNEL_LINK_REAPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_link;
struct reaper;

/* Destroys n links now, from up to 16 threads (one per 4 links). */
void destroy_links(struct bpf_link **links, size_t n);

/* NULL with errno when no thread could be started. */
struct reaper *reaper_start(void);
/* Hands n links of tgid (and the array, malloc'ed) to the reaper; false when it cannot take
 * them (r NULL, no memory): the caller destroys them. */
bool reaper_take(struct reaper *r, uint32_t tgid, struct bpf_link **links, size_t n);
/* Returns once no link of tgid waits to be destroyed (a process probed again: no call is
 * ever reported twice). r may be NULL. */
void reaper_wait(struct reaper *r, uint32_t tgid);
/* Stops the reaper (r may be NULL); the links still queued are returned in *links (n of
 * them, to destroy; NULL when none), the batch in hand destroyed first. */
void reaper_stop(struct reaper *r, struct bpf_link ***links, size_t *n);

#endif
