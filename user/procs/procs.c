// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "procs/procfs.h"
#include "util/hash.h"
#include "util/log.h"
#include "kernel/ctl.h"
#include "procs/procs.h"
#include "procs/selection.h"
#include "sonde_abi.h"

bool procs_want_exec_events(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_rules; i++)
		if (cfg->rules[i].kind != SELECT_PID && cfg->rules[i].kind != SELECT_COMM)
			return true;
	return cfg->n_rules == 0;
}

bool procs_want_listen_events(const struct config *cfg)
{
	return cfg->n_rules == 0 || selection_has_port_rules(cfg->rules, cfg->n_rules);
}

int procs_init(struct procs *p, const struct config *cfg, const struct kernel_ctl *kctl,
	       const char *proc_root)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->kctl = kctl;
	p->proc_root = proc_root;
	p->any_listener = cfg->n_rules == 0;
	p->self = getpid();
	if (readlink("/proc/self/exe", p->self_exe, sizeof(p->self_exe) - 1) < 0)
		p->self_exe[0] = '\0';
	return hashmap_init(&p->by_tgid, 64);
}

void procs_free(struct procs *p)
{
	free(p->leaving);
	p->leaving = NULL;
	if (!p->by_tgid.cap)
		return;
	for (size_t i = 0; i < p->by_tgid.cap; i++)
		free(p->by_tgid.vals[i]);
	hashmap_free(&p->by_tgid);
}

static uint64_t exe_hash(const char *path)
{
	return fnv1a64(path, strlen(path));
}

/* TCP health attributes accepted connections to their listener's owner; the kernel
 * records listen() calls from now on, user space the listeners that already exist. */
static void share_listeners(struct procs *p, uint32_t tgid)
{
	uint16_t ports[PROC_PORTS_MAX];
	size_t n = 0;
	uint32_t netns;

	if (!p->cfg->tcp_health || proc_netns(p->proc_root, tgid, &netns) ||
	    proc_listening_ports(p->proc_root, tgid, ports, PROC_PORTS_MAX, &n))
		return;
	for (size_t i = 0; i < n; i++)
		kctl_listener(p->kctl, netns, ports[i], tgid, true);
}

/* " (pid N in its namespace)" when the process sees itself under another number: the
 * kernel reports host pids, an operator looking into a container sees the other. */
static const char *nspid_text(uint32_t tgid, uint32_t nstgid, char buf[48])
{
	if (!nstgid || nstgid == tgid)
		return "";
	snprintf(buf, 48, " (pid %u in its namespace)", nstgid);
	return buf;
}

/* Processes whose series are the same: the same service, and with --k8s-labels the same
 * container and pod. */
static bool same_series(const struct procs *p, const char *sa, const struct ctx_labels *a,
			const char *sb, const struct ctx_labels *b)
{
	const char *va[CTX_LABELS], *vb[CTX_LABELS];
	int i = 0;

	if (strcmp(sa, sb))
		return false;
	ctx_label_values(a, va);
	ctx_label_values(b, vb);
	while (p->cfg->k8s_labels && i < CTX_LABELS && !strcmp(va[i], vb[i]))
		i++;
	return !p->cfg->k8s_labels || i == CTX_LABELS;
}

static void leaving_forget(struct procs *p, const char *service, const struct ctx_labels *ctx)
{
	for (size_t i = 0; i < p->n_leaving; i++)
		if (same_series(p, p->leaving[i].service, &p->leaving[i].ctx, service, ctx))
			p->leaving[i--] = p->leaving[--p->n_leaving];
}

/* The last process of its service (container) left: its series go after the grace. */
static void leaving_add(struct procs *p, const struct proc *gone)
{
	struct timespec ts;
	struct leaving *l;

	for (size_t i = 0; i < p->by_tgid.cap; i++) {
		const struct proc *o = p->by_tgid.vals[i];

		if (o && same_series(p, o->service, &o->ctx, gone->service, &gone->ctx))
			return;
	}
	leaving_forget(p, gone->service, &gone->ctx);
	if (p->n_leaving == p->cap_leaving) {
		size_t cap = p->cap_leaving ? 2 * p->cap_leaving : 16;

		if (!(l = realloc(p->leaving, cap * sizeof(*l))))
			return; /* its series stay: the cap still bounds them */
		p->leaving = l;
		p->cap_leaving = cap;
	}
	l = &p->leaving[p->n_leaving++];
	memcpy(l->service, gone->service, sizeof(l->service));
	l->ctx = gone->ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	l->since_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

size_t procs_expire_services(struct procs *p, uint64_t now_ns, uint64_t grace_ns, procs_gone_fn fn,
			     void *ctx)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_leaving; i++) {
		struct leaving l = p->leaving[i];

		if (now_ns < l.since_ns + grace_ns)
			continue;
		p->leaving[i--] = p->leaving[--p->n_leaving];
		fn(ctx, l.service, &l.ctx);
		n++;
	}
	return n;
}

static void track(struct procs *p, const struct proc_info *info, const char *why)
{
	struct proc *pr = hashmap_get(&p->by_tgid, info->tgid);
	bool had = pr != NULL;
	char nsbuf[48];

	if (!pr) {
		pr = calloc(1, sizeof(*pr));
		if (!pr || hashmap_put(&p->by_tgid, info->tgid, pr)) {
			free(pr);
			log_warn("out of memory tracking process %u", info->tgid);
			return;
		}
		leaving_forget(p, info->service_name, &info->ctx);
		log_info("observing pid %u%s (%s, service %s%s%s): %s", info->tgid,
			 nspid_text(info->tgid, info->nstgid, nsbuf), info->comm,
			 info->service_name, info->ctx.pod_name[0] ? ", pod " : "",
			 info->ctx.pod_name, why);
	}
	pr->tgid = info->tgid;
	snprintf(pr->comm, sizeof(pr->comm), "%s", info->comm);
	snprintf(pr->service, sizeof(pr->service), "%s", info->service_name);
	if (info->exe[0])
		pr->exe_hash = exe_hash(info->exe);
	pr->nstgid = info->nstgid;
	pr->ctx = info->ctx;
	kctl_allow(p->kctl, info->tgid, true);
	if (!had)
		share_listeners(p, info->tgid);
	kctl_tls_track(p->kctl, info->tgid, info->nstgid, true);
}

/* why: a process the rules no longer select (NULL: one that exited); its series stay (the
 * service may be selected again), so it is not counted as leaving. */
static void untrack(struct procs *p, uint32_t tgid, const char *why)
{
	struct proc *pr = hashmap_del(&p->by_tgid, tgid);

	kctl_allow(p->kctl, tgid, false);
	kctl_tls_track(p->kctl, tgid, 0, false);
	if (pr) {
		struct departed *d = &p->departed[p->n_departed++ % PROCS_DEPARTED];

		char nsbuf[48];

		d->tgid = tgid;
		memcpy(d->service, pr->service, sizeof(d->service));
		d->ctx = pr->ctx;
		if (p->cfg->series_grace && !why)
			leaving_add(p, pr);
		log_info("no longer observing pid %u%s (%s)%s%s", tgid,
			 nspid_text(tgid, pr->nstgid, nsbuf), pr->comm, why ? ": " : "",
			 why ? why : "");
	}
	free(pr);
}

static const char *exe_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static bool rules_match(struct procs *p, const struct proc_info *info)
{
	uint16_t ports[PROC_PORTS_MAX];
	size_t n_ports = 0;
	bool need_ports =
		p->any_listener || selection_has_port_rules(p->cfg->rules, p->cfg->n_rules);

	if (info->tgid == p->self)
		return false;
	/* Another sonde listens (its /metrics) but observing it only observes scrapes. */
	if (p->any_listener && !strcmp(exe_name(info->exe), exe_name(p->self_exe)))
		return false;
	if (need_ports &&
	    proc_listening_ports(p->proc_root, info->tgid, ports, PROC_PORTS_MAX, &n_ports))
		n_ports = 0;
	if (p->any_listener)
		return n_ports > 0;
	return selection_match(p->cfg->rules, p->cfg->n_rules, info, ports, n_ports);
}

/* Start-up scan: every process, matched against the rules; the rest remembered
 * (tgid, parent, comm) so that children forked before sonde started can join below. */
struct scan_rest {
	uint32_t tgid, ppid;
	uint64_t exe_hash;
	char comm[16];
	char service[128];
};

struct scan_state {
	struct procs *p;
	struct scan_rest *rest;
	size_t n, cap;
	struct hashmap *keep; /* reselect: the tgids the rules (still) select */
	bool nomem;	      /* keep is incomplete: unselect nothing */
};

/* Whether the process was tracked before this reselect (then it is not tracked again). */
static bool scan_keep(struct scan_state *st, uint32_t tgid)
{
	if (!st->keep)
		return false;
	if (hashmap_put(st->keep, tgid, (void *)1))
		st->nomem = true;
	return procs_get(st->p, tgid) != NULL;
}

static int scan_one(void *ctx, const struct proc_info *info)
{
	struct scan_state *st = ctx;

	if (rules_match(st->p, info)) {
		if (!scan_keep(st, info->tgid))
			track(st->p, info,
			      st->keep ? "matched after the reload" : "matched at start-up");
		return 0;
	}
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 256;
		struct scan_rest *r = realloc(st->rest, cap * sizeof(*r));

		if (!r)
			return 0; /* a child we cannot remember is still added at its next fork */
		st->rest = r;
		st->cap = cap;
	}
	st->rest[st->n].tgid = info->tgid;
	st->rest[st->n].ppid = info->ppid;
	st->rest[st->n].exe_hash = exe_hash(info->exe);
	memcpy(st->rest[st->n].comm, info->comm, sizeof(info->comm));
	memcpy(st->rest[st->n].service, info->service_name, sizeof(info->service_name));
	st->n++;
	return 0;
}

/* Children forked before sonde started (prefork workers) are observed like those the
 * kernel adds later, to any depth: a process forked by an observed process and running
 * the same executable. One that exec'd something else was re-evaluated by the rules at
 * its exec, as it would be now, and is not adopted. */
static void adopt_children(struct scan_state *st)
{
	bool added = true;

	while (added) {
		added = false;
		for (size_t i = 0; i < st->n; i++) {
			struct scan_rest *c = &st->rest[i];
			const struct proc *parent = procs_get(st->p, c->ppid);
			static struct proc_info info; /* large; single-threaded use */
			struct proc *pr;

			if (!c->tgid || !parent || c->tgid == st->p->self ||
			    (st->keep && !hashmap_get(st->keep, c->ppid)))
				continue;
			added = true;
			if (scan_keep(st, c->tgid)) {
				c->tgid = 0;
				continue;
			}
			memset(&info, 0, sizeof(info));
			info.tgid = c->tgid;
			info.ppid = c->ppid;
			memcpy(info.comm, c->comm, sizeof(info.comm));
			snprintf(info.service_name, sizeof(info.service_name), "%s",
				 parent->service);
			info.ctx = parent->ctx;
			track(st->p, &info, "child of an observed process");
			if ((pr = hashmap_get(&st->p->by_tgid, c->tgid)))
				pr->exe_hash = c->exe_hash; /* for its own children */
			c->tgid = 0;
			added = true;
		}
	}
}

int procs_scan(struct procs *p)
{
	struct scan_state st = { .p = p };
	int err = proc_scan(p->proc_root, true, scan_one, &st);

	if (err >= 0)
		adopt_children(&st);
	free(st.rest);
	return err < 0 ? err : (int)procs_count(p);
}

int procs_reselect(struct procs *p)
{
	struct hashmap keep;
	struct scan_state st = { .p = p, .keep = &keep };
	int err;

	if (hashmap_init(&keep, p->by_tgid.len + 16))
		return -ENOMEM;
	p->any_listener = p->cfg->n_rules == 0;
	err = proc_scan(p->proc_root, true, scan_one, &st);
	if (err >= 0)
		adopt_children(&st);
	free(st.rest);
	/* Only a complete scan says which processes no rule selects any more. */
	for (size_t i = 0; err >= 0 && !st.nomem && i < p->by_tgid.cap; i++) {
		uint32_t tgid = (uint32_t)p->by_tgid.keys[i];

		if (p->by_tgid.vals[i] && !hashmap_get(&keep, tgid)) {
			untrack(p, tgid, "no rule selects it after the reload");
			i--; /* backward-shift deletion moved another entry into slot i */
		}
	}
	hashmap_free(&keep);
	return err < 0 ? err : (int)procs_count(p);
}

void procs_on_fork(struct procs *p, uint32_t tgid, uint32_t ppid)
{
	struct proc_info info;
	const struct proc *parent = procs_get(p, ppid);

	/* The kernel selected the child already; the parent's service names it (a prefork
	 * worker is the same service), even if /proc is already gone for a short child. */
	memset(&info, 0, sizeof(info));
	info.tgid = tgid;
	if (proc_read_info(p->proc_root, tgid, &info) && !parent) {
		kctl_allow(p->kctl, tgid, false);
		return;
	}
	info.tgid = tgid;
	if (parent) {
		snprintf(info.service_name, sizeof(info.service_name), "%s", parent->service);
		if (ctx_labels_empty(&info.ctx))
			info.ctx = parent->ctx; /* /proc gone already: same container */
		if (!info.comm[0])
			snprintf(info.comm, sizeof(info.comm), "%s", parent->comm);
	}
	track(p, &info, "forked from a selected process");
}

static bool comm_rule_matches(const struct procs *p, const char *comm)
{
	for (size_t i = 0; i < p->cfg->n_rules; i++)
		if (p->cfg->rules[i].kind == SELECT_COMM &&
		    selection_comm_matches(p->cfg->rules[i].text, comm))
			return true;
	return false;
}

void procs_on_exec(struct procs *p, uint32_t tgid, const char *comm)
{
	struct proc_info info;
	bool tracked = procs_get(p, tgid) != NULL;

	/* Most execs on a node are of processes no rule can select: with only pid= and comm=
	 * rules that is known from the event, without the ~10 /proc reads below. */
	if (!tracked && !p->any_listener &&
	    selection_none_by_comm(p->cfg->rules, p->cfg->n_rules, tgid, comm))
		return;
	if (proc_read_info(p->proc_root, tgid, &info)) {
		/* Gone already (a short-lived client). The kernel selected it at exec if a
		 * comm= rule matched: keep it, named by its comm, for its queued events. */
		if (comm_rule_matches(p, comm)) {
			memset(&info, 0, sizeof(info));
			info.tgid = tgid;
			snprintf(info.comm, sizeof(info.comm), "%s", comm);
			snprintf(info.service_name, sizeof(info.service_name), "%s", comm);
			track(p, &info, "matched at exec");
		} else if (tracked) {
			untrack(p, tgid, NULL);
		}
		return;
	}
	if (rules_match(p, &info))
		track(p, &info, "matched at exec");
	else if (tracked)
		untrack(p, tgid, NULL);
}

/* No rule is matched again: /proc/PID/cgroup may be gone (a short-lived client), and
 * proc_info keeps one v1 path, maybe not the hierarchy whose cgroup the kernel matched. */
void procs_on_cgroup(struct procs *p, uint32_t tgid, uint32_t ppid, const char *comm)
{
	const struct proc *parent = procs_get(p, ppid);
	struct proc_info info;

	if (tgid == p->self) {
		kctl_allow(p->kctl, tgid, false); /* sonde in a selected cgroup: not itself */
		return;
	}
	if (proc_read_info(p->proc_root, tgid, &info)) {
		memset(&info, 0, sizeof(info));
		info.tgid = tgid;
		snprintf(info.comm, sizeof(info.comm), "%s", comm);
		snprintf(info.service_name, sizeof(info.service_name), "%s",
			 parent ? parent->service : comm);
		if (parent)
			info.ctx = parent->ctx; /* same container */
	}
	track(p, &info, "in a selected cgroup");
}

void procs_on_cgroup_left(struct procs *p, uint32_t tgid)
{
	struct proc_info info;

	/* Gone: its exit record follows. Moved back meanwhile: the rules match again. A
	 * child of an observed process stays, as it would in a /proc scan (adopt_children). */
	if (!procs_get(p, tgid) || proc_read_info(p->proc_root, tgid, &info) ||
	    rules_match(p, &info) || procs_get(p, info.ppid))
		return;
	untrack(p, tgid, "moved out of the selected cgroups, and no other rule selects it");
}

void procs_on_listen(struct procs *p, uint32_t tgid, uint16_t port)
{
	struct proc_info info;
	bool match = p->any_listener;

	if (procs_get(p, tgid) || tgid == p->self)
		return;
	for (size_t i = 0; !match && i < p->cfg->n_rules; i++)
		match = p->cfg->rules[i].kind == SELECT_PORT && p->cfg->rules[i].num == port;
	if (match && !proc_read_info(p->proc_root, tgid, &info))
		track(p, &info, "started listening");
}

void procs_on_exit(struct procs *p, uint32_t tgid)
{
	untrack(p, tgid, NULL);
}

const struct proc *procs_get(const struct procs *p, uint32_t tgid)
{
	return hashmap_get(&p->by_tgid, tgid);
}

static const struct departed *departed_get(const struct procs *p, uint32_t tgid)
{
	unsigned n = p->n_departed < PROCS_DEPARTED ? p->n_departed : PROCS_DEPARTED;

	/* newest first: a tgid reused since belongs to the latest one */
	for (unsigned i = 1; i <= n; i++) {
		const struct departed *d = &p->departed[(p->n_departed - i) % PROCS_DEPARTED];

		if (d->tgid == tgid)
			return d;
	}
	return NULL;
}

const char *procs_service(const struct procs *p, uint32_t tgid)
{
	const struct proc *pr = procs_get(p, tgid);
	const struct departed *d = pr ? NULL : departed_get(p, tgid);

	return pr ? pr->service : d ? d->service : NULL;
}

const struct ctx_labels *procs_ctx(const struct procs *p, uint32_t tgid)
{
	const struct proc *pr = procs_get(p, tgid);
	const struct departed *d = pr ? NULL : departed_get(p, tgid);

	return pr ? &pr->ctx : d ? &d->ctx : NULL;
}

unsigned procs_count(const struct procs *p)
{
	return p->by_tgid.len;
}
