// SPDX-License-Identifier: GPL-2.0-only
#include <stdint.h>
#include <string.h>

#include "consumer/consumer.h"
#include "metrics/observe.h"
#include "procs/procs.h"

int consumer_init(struct consumer *c, struct procs *procs, const struct observer *obs,
		  const struct kernel_ctl *kctl)
{
	memset(c, 0, sizeof(*c));
	c->procs = procs;
	return conns_init(&c->conns, obs, procs, kctl);
}

void consumer_free(struct consumer *c)
{
	conns_free(&c->conns);
}

static const char *const event_names[] = {
	[SONDE_EV_DATA] = "data",
	[SONDE_EV_CONN_OPEN] = "conn_open",
	[SONDE_EV_CONN_CLOSE] = "conn_close",
	[SONDE_EV_PROC_FORK] = "proc_fork",
	[SONDE_EV_PROC_EXEC] = "proc_exec",
	[SONDE_EV_PROC_EXIT] = "proc_exit",
	[SONDE_EV_LISTEN] = "listen",
	[SONDE_EV_PROC_CGROUP] = "proc_cgroup",
};

const char *consumer_event_name(unsigned type)
{
	return type < sizeof(event_names) / sizeof(event_names[0]) ? event_names[type] : NULL;
}

static size_t min_size(uint16_t type)
{
	switch (type) {
	case SONDE_EV_DATA:
		return sizeof(struct sonde_data_event);
	case SONDE_EV_CONN_OPEN:
	case SONDE_EV_CONN_CLOSE:
		return sizeof(struct sonde_conn_event);
	case SONDE_EV_PROC_FORK:
	case SONDE_EV_PROC_EXEC:
	case SONDE_EV_PROC_EXIT:
	case SONDE_EV_PROC_CGROUP:
		return sizeof(struct sonde_proc_event);
	case SONDE_EV_LISTEN:
		return sizeof(struct sonde_listen_event);
	default:
		return SIZE_MAX;
	}
}

/* A record is whole: its type known, its ABI ours, its size covering what it claims. */
static bool record_valid(const void *data, size_t size)
{
	const struct sonde_event_hdr *h = data;

	if (size < sizeof(*h) || h->abi != SONDE_ABI_VERSION || size < min_size(h->type))
		return false;
	return h->type != SONDE_EV_DATA ||
	       size >= sizeof(struct sonde_data_event) +
			       ((const struct sonde_data_event *)data)->cap_len;
}

/* A process the kernel selected by a cgroup= rule is kept whatever /proc says by now; one
 * moved out of the selected cgroups is judged again. */
static void on_proc(struct consumer *c, const struct sonde_proc_event *e)
{
	if (e->flags & SONDE_PROC_CGROUP)
		procs_on_cgroup(c->procs, e->hdr.tgid, e->ppid, e->comm);
	else if (e->hdr.type == SONDE_EV_PROC_CGROUP)
		procs_on_cgroup_left(c->procs, e->hdr.tgid);
	else if (e->hdr.type == SONDE_EV_PROC_FORK)
		procs_on_fork(c->procs, e->hdr.tgid, e->ppid);
	else
		procs_on_exec(c->procs, e->hdr.tgid, e->comm);
}

int consumer_on_record(void *ctx, const void *data, size_t size)
{
	struct consumer *c = ctx;
	const struct sonde_event_hdr *h = data;

	if (!record_valid(data, size)) {
		c->bad_records++;
		return 0;
	}
	/* Counted here, published once a second: a labelled counter per event would cost a
	 * hash lookup and a lock on the hottest path. */
	c->events++;
	c->by_type[h->type]++;
	switch (h->type) {
	case SONDE_EV_DATA:
		conns_on_data(&c->conns, data);
		break;
	case SONDE_EV_CONN_OPEN:
		conns_on_open(&c->conns, data);
		break;
	case SONDE_EV_CONN_CLOSE:
		conns_on_close(&c->conns, data);
		break;
	case SONDE_EV_PROC_FORK:
	case SONDE_EV_PROC_EXEC:
	case SONDE_EV_PROC_CGROUP:
		on_proc(c, data);
		break;
	case SONDE_EV_PROC_EXIT:
		procs_on_exit(c->procs, h->tgid);
		break;
	case SONDE_EV_LISTEN:
		procs_on_listen(c->procs, h->tgid, ((const struct sonde_listen_event *)data)->port);
		break;
	}
	return 0;
}
