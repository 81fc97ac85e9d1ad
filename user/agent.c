// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "config/options.h"
#include "events/events.h"
#include "events/sink.h"
#include "metrics/business.h"
#include "http/httpd.h"
#include "http/webconfig.h"
#include "kernel/loader.h"
#include "kernel/probe.h"
#include "kernel/tcp_maps.h"
#include "kernel/uprobes.h"
#include "util/log.h"
#include "util/wallclock.h"
#include "consumer/consumer.h"
#include "procs/cgroup_ids.h"
#include "procs/procs.h"
#include "procs/selection.h"
#include "metrics/observe.h"
#include "metrics/route.h"
#include "metrics/tcp_health.h"
#include "http/status.h"
#include "metrics/telemetry.h"
#include "metrics/tls_metrics.h"

/* After activity, records that arrived without waking us wait at most POLL_MS; once a
 * poll finds nothing, the loop sleeps until the next refresh: the kernel wakes it for the
 * first record after a quiet spell (rec_wake_flags in bpf/sonde.bpf.h), and signals
 * interrupt the wait. */
#define POLL_MS 250
#define TLS_POLL_MS 2	    /* while a TLS file is inspected: its probes attach soon after */
#define TLS_SETTLE_MS 30000 /* start-up: at most this long for the TLS files inspected */
#define REFRESH_NS 1000000000ULL
#define EXPIRE_EVERY_NS (10 * 1000000000ULL)
#define CONN_IDLE_NS (300 * 1000000000ULL)

static volatile sig_atomic_t stop_requested, reload_requested;
static bool reopen_on_hup; /* --events: SIGHUP also reopens the file (log rotation) */

static void on_signal(int sig)
{
	stop_requested = 1;
}

struct agent {
	struct config *cfg; /* the running one: a reload changes its reloadable keys */
	int argc;	    /* what it was parsed from, parsed again on SIGHUP */
	char **argv;
	struct metric *m_reloads; /* sonde_config_reloads_total{result} */
	struct metric *m_scrapes; /* sonde_scrapes_total{format} */
	uint64_t scrapes_seen[2]; /* of httpd_scrapes(), added to m_scrapes so far */
	struct loader loader;
	struct telemetry tel;
	struct tls_metrics tlsm;
	struct route_table *routes;
	struct business *biz;	/* --counter rules */
	struct kernel_ctl kctl; /* the loader's, for procs and the consumer */
	struct observer obs;
	struct tcp_health tcp;	   /* --tcp-health families */
	struct tcp_source tcp_src; /* the kernel's TCP health sums (kernel/tcp_maps.c) */
	struct events events;	   /* --events */
	bool bad_config;	   /* a setting failed at start (--events FILE): exit 2 */
	struct procs procs;
	struct consumer consumer;
	struct httpd *httpd;
	pthread_mutex_t status_lock;
	struct sonde_status status; /* snapshot for the HTTP threads, under status_lock */
};

static void service_gone(void *ctx, const char *service, const struct ctx_labels *c)
{
	size_t n = telemetry_remove_service(ctx, service, c);

	log_info("removed %zu series of service %s%s%s: its processes exited", n, service,
		 c->container_id[0] ? ", container " : "", c->container_id);
}

/* Series of services (containers) gone for --series-grace go, so churn never fills the
 * series cap. */
static void expire_services(struct agent *a, uint64_t now)
{
	if (a->cfg->series_grace)
		procs_expire_services(&a->procs, now, a->cfg->series_grace * 1000000000ULL,
				      service_gone, &a->tel);
}

static void tcp_owner(void *ctx, uint32_t tgid, struct tcp_owner_info *out)
{
	const struct procs *p = ctx;

	out->service = procs_service(p, tgid);
	out->ctx = procs_ctx(p, tgid);
	out->alive = procs_get(p, tgid) != NULL;
}

/* The kernel's TCP health sums into the tcp_* families, once a second. */
static void tcp_harvest(struct agent *a, uint64_t now)
{
	int err;

	if (!a->cfg->tcp_health)
		return;
	err = tcp_health_harvest(&a->tcp, &a->tcp_src, tcp_owner, &a->procs, now);
	if (err)
		log_warn("reading the TCP health maps failed: %s", strerror(-err));
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* An idle poll's timeout: until the next refresh, between 1 ms and a second. */
static int idle_ms(uint64_t now, uint64_t next_refresh)
{
	uint64_t ms = next_refresh > now ? (next_refresh - now) / 1000000 : 0;

	return ms < 1 ? 1 : ms > 1000 ? 1000 : (int)ms;
}

static void status_copy(void *ctx, struct sonde_status *out)
{
	struct agent *a = ctx;

	pthread_mutex_lock(&a->status_lock);
	*out = a->status;
	pthread_mutex_unlock(&a->status_lock);
}

static void add_part(struct sonde_status *s, const char *name, int ok, const char *detail)
{
	struct sonde_part *p;
	size_t n;

	if (s->n_parts >= SONDE_STATUS_MAX_PARTS)
		return;
	p = &s->parts[s->n_parts++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->ok = ok;
	n = strnlen(detail, sizeof(p->detail) - 1); /* a longer line is cut */
	memcpy(p->detail, detail, n);
	p->detail[n] = '\0';
}

static int by_tgid(const void *a, const void *b)
{
	uint32_t x = ((const struct tls_target_info *)a)->tgid;
	uint32_t y = ((const struct tls_target_info *)b)->tgid;

	return x < y ? -1 : x > y;
}

/* /health's tls_targets: each process sonde looked at for TLS, list sorted by pid (the
 * first SONDE_STATUS_MAX_TLS of them; tls_total says how many there are). */
static void tls_status_list(struct sonde_status *s, const struct tls_target_info *list, size_t n)
{
	s->tls_total = n;
	s->n_tls = n < SONDE_STATUS_MAX_TLS ? n : SONDE_STATUS_MAX_TLS;
	for (size_t i = 0; i < s->n_tls; i++) {
		const struct tls_target_info *t = &list[i];
		struct sonde_tls_proc *p = &s->tls[i]; /* zeroed by the caller */

		p->pid = t->tgid;
		p->pid_in_ns = t->nstgid;
		snprintf(p->library, sizeof(p->library), "%s", tls_library_name(t->lib));
		snprintf(p->state, sizeof(p->state), "%s", tls_state_name(t->state));
		snprintf(p->reason, sizeof(p->reason), "%s",
			 t->state == TLS_STATE_FAILED ? tls_reason_name(t->reason) : "");
		/* as long as the source fields: cut only where they lack their NUL */
		memcpy(p->detail, t->detail, strnlen(t->detail, sizeof(p->detail) - 1));
		memcpy(p->path, t->path, strnlen(t->path, sizeof(p->path) - 1));
	}
}

/* TLS self-metrics, and the "tls" part of /health: what was probed, what failed and why. */
static void refresh_tls(struct agent *a, const struct sonde_stats *k, struct sonde_status *s)
{
	/* every target, however many (main thread only; grown as needed, kept) */
	static struct tls_target_info *list;
	static size_t cap;
	size_t n = a->loader.tls ? uprobes_list(a->loader.tls, list, cap) : 0;
	unsigned probed[TLS_LIB_NR] = { 0 }, failed = 0;
	const struct tls_target_info *bad = NULL;
	char detail[320]; /* add_part keeps what fits its line */
	int len;

	if (n > cap) {
		size_t want = n + n / 2 + 16;
		struct tls_target_info *more = realloc(list, want * sizeof(*list));

		if (more) {
			list = more;
			cap = want;
			n = uprobes_list(a->loader.tls, list, cap);
		}
		if (n > cap) { /* out of memory: the figures of this second are those that fit */
			log_warn("TLS: no memory to list %zu targets; reporting %zu", n, cap);
			n = cap;
		}
	}
	/* by pid: /health lists them so, and the failure named below is the lowest pid's */
	if (n > 1)
		qsort(list, n, sizeof(*list), by_tgid);
	tls_metrics_refresh(&a->tlsm, k, list, n);
	for (size_t i = 0; i < n; i++) {
		if (list[i].state == TLS_STATE_PROBED && list[i].lib < TLS_LIB_NR)
			probed[list[i].lib]++;
		if (list[i].state == TLS_STATE_FAILED && !failed++)
			bad = &list[i];
	}
	len = snprintf(detail, sizeof(detail), "probed: openssl %u, go %u; failed %u",
		       probed[TLS_LIB_OPENSSL], probed[TLS_LIB_GO], failed);
	if (bad && len > 0 && (size_t)len < sizeof(detail)) {
		char pid[48];

		if (bad->nstgid && bad->nstgid != bad->tgid)
			snprintf(pid, sizeof(pid), "pid %u, %u in its namespace", bad->tgid,
				 bad->nstgid);
		else
			snprintf(pid, sizeof(pid), "pid %u", bad->tgid);
		snprintf(detail + len, sizeof(detail) - len, " (%s: %s)", pid, bad->detail);
	}
	add_part(s, "tls", 1, detail);
	tls_status_list(s, list, n);
}

/* The HTTP threads count /metrics answers; the registry's series have one writer, this. */
static void refresh_scrapes(struct agent *a)
{
	static const char *const formats[2] = { "text", "openmetrics" };
	uint64_t n[2];

	httpd_scrapes(a->httpd, &n[0], &n[1]);
	for (int f = 0; f < 2; f++) {
		if (n[f] > a->scrapes_seen[f])
			metric_add(a->m_scrapes, (const char *const[]){ formats[f] },
				   (double)(n[f] - a->scrapes_seen[f]));
		a->scrapes_seen[f] = n[f];
	}
}

/* Once a second: kernel counters into self-metrics, and a fresh status snapshot. */
static void refresh(struct agent *a)
{
	struct sonde_status s = { 0 };
	struct sonde_stats k;
	unsigned long long lost = 0;
	char detail[96];

	if (loader_stats(&a->loader, &k))
		memset(&k, 0, sizeof(k));
	k.lost[SONDE_LOST_GAP] = a->consumer.conns.gaps; /* counted in user space */
	refresh_scrapes(a);
	telemetry_refresh(&a->tel, &k, procs_count(&a->procs), a->loader.attached,
			  route_overflowed(a->routes));
	self_metrics_refresh(&a->tel.self);
	wallclock_refresh(); /* event times and exemplars follow NTP within a second */
	events_refresh(&a->events);
	for (unsigned t = 0; t <= SONDE_EV_LAST; t++)
		telemetry_events(&a->tel, t, consumer_event_name(t), a->consumer.by_type[t]);
	for (unsigned d = 0; d < 2; d++)
		for (unsigned f = 0; f < FATE_NR; f++)
			telemetry_capture_bytes(&a->tel, d, f, byte_fate_outcome(f),
						byte_fate_reason(f), a->consumer.conns.bytes[d][f]);
	telemetry_hints_displaced(&a->tel, a->consumer.conns.hints_displaced);
	for (int r = 0; r < SONDE_LOST_NR; r++)
		lost += k.lost[r];
	pthread_mutex_lock(&a->status_lock);
	s.started_unix = a->status.started_unix;
	snprintf(s.capture_mode, sizeof(s.capture_mode), "%s", capture_mode_name(a->loader.mode));
	s.tracked_processes = procs_count(&a->procs);
	s.attached_programs = a->loader.attached;
	s.events_received = a->consumer.events;
	s.events_lost = lost;
	snprintf(detail, sizeof(detail), "%u programs attached", a->loader.attached);
	add_part(&s, "bpf", a->loader.attached > 0, detail);
	snprintf(detail, sizeof(detail), "%llu events received, %llu lost", s.events_received,
		 lost);
	add_part(&s, "ringbuf", 1, detail);
	snprintf(detail, sizeof(detail), "%u processes observed", s.tracked_processes);
	add_part(&s, "discovery", 1, detail);
	refresh_tls(a, &k, &s);
	a->status = s;
	pthread_mutex_unlock(&a->status_lock);
}

/* The cgroup= rules into the kernel (at start, and on a SIGHUP that changed them), each
 * one it cannot follow in full named once. */
static void set_cgroup_rules(struct agent *a)
{
	const struct config *cfg = a->cfg;
	const char **globs = calloc(cfg->n_rules + 1, sizeof(*globs));
	size_t n = 0, slots = 0;
	int err;

	if (!globs) {
		log_warn("cgroup= rules: out of memory; the kernel keeps the rules it had");
		return;
	}
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const char *glob = cfg->rules[i].text;

		if (cfg->rules[i].kind != SELECT_CGROUP)
			continue;
		globs[n++] = glob;
		if (cgroup_glob_kernel_ok(glob) && slots++ < SONDE_CGROUP_GLOBS)
			continue;
		log_warn("cgroup=%s: cgroups made later are not matched in the kernel (a "
			 "bracket expression, longer than %d bytes, or more than %d rules); "
			 "their short-lived processes may be missed",
			 glob, SONDE_CGROUP_GLOB_LEN - 1, SONDE_CGROUP_GLOBS);
	}
	if ((err = loader_set_cgroup_rules(&a->loader, globs, n, "/proc/self/mountinfo")))
		log_warn("cgroup= rules: cannot select in the kernel (%s); short-lived processes "
			 "may be missed",
			 strerror(-err));
	free(globs);
}

/* Whether the kernel reports every exec on the node, or only the selected processes': the
 * rules say (procs_want_exec_events), and every exec when a comm= rule is not in the
 * kernel's comm_rules (comm_missed), so that /proc decides it. An exec the rules cannot
 * select is an urgent record and a wake-up of sonde: on a node that execs a lot, most of
 * sonde's idle cost. */
static void set_exec_events(struct agent *a, bool comm_missed)
{
	loader_set_exec_events(&a->loader, comm_missed || procs_want_exec_events(a->cfg));
}

/* The comm= and cgroup= rules the kernel decides, before the /proc scan: a process moved
 * into a selected cgroup meanwhile is selected by the kernel, one already there by the
 * scan. */
static void add_kernel_rules(struct agent *a)
{
	bool missed = false;

	for (size_t i = 0; i < a->cfg->n_rules; i++) {
		int err;

		if (a->cfg->rules[i].kind == SELECT_COMM &&
		    (err = loader_add_comm_rule(&a->loader, a->cfg->rules[i].text))) {
			log_warn("comm=%s: cannot select at exec in the kernel (%s); "
				 "short-lived processes may be missed",
				 a->cfg->rules[i].text, strerror(-err));
			missed = true;
		}
	}
	set_exec_events(a, missed);
	if (selection_has_cgroup_rules(a->cfg->rules, a->cfg->n_rules))
		set_cgroup_rules(a);
}

static int reloads_init(struct agent *a)
{
	a->m_reloads = registry_add(a->tel.reg, METRIC_COUNTER, "sonde_config_reloads_total",
				    "Configuration reloads on SIGHUP: ok, or error (the file was "
				    "refused, or a key that needs a restart changed).",
				    (const char *const[]){ "result" }, 1, NULL, 0, 0);
	if (!a->m_reloads)
		return -errno;
	metric_add(a->m_reloads, (const char *const[]){ "ok" }, 0); /* both render 0 */
	metric_add(a->m_reloads, (const char *const[]){ "error" }, 0);
	a->m_scrapes = registry_add(a->tel.reg, METRIC_COUNTER, "sonde_scrapes_total",
				    "Answers to GET /metrics, by format: text (Prometheus 0.0.4, "
				    "the default) or openmetrics (asked for by Accept).",
				    (const char *const[]){ "format" }, 1, NULL, 0, 0);
	if (!a->m_scrapes)
		return -errno;
	metric_add(a->m_scrapes, (const char *const[]){ "text" }, 0);
	metric_add(a->m_scrapes, (const char *const[]){ "openmetrics" }, 0);
	return 0;
}

/* Selects the running processes (a /proc scan), their TLS libraries probed: what sonde
 * observes once it says it is ready. Returns how many were selected. */
static int select_running(struct agent *a)
{
	int n = procs_scan(&a->procs);

	if (n < 0)
		log_warn("scanning /proc failed: %s", strerror(-n));
	loader_tls_settle(&a->loader, TLS_SETTLE_MS);
	return n;
}

static int agent_start(struct agent *a)
{
	struct loader_opts o = {
		.capture = a->cfg->capture,
		.capture_bytes = a->cfg->capture_bytes,
		.ringbuf_bytes = a->cfg->ringbuf_bytes,
		/* a SIGHUP may add port= rules; rodata is fixed at load (exec events are
		 * switched at run time: set_exec_events) */
		.listen_events = procs_want_listen_events(a->cfg) || a->cfg->config_file[0],
		.tcp_health = a->cfg->tcp_health,
		/* likewise: a SIGHUP may add the first cgroup= rule */
		.cgroup_rules = selection_has_cgroup_rules(a->cfg->rules, a->cfg->n_rules) ||
				a->cfg->config_file[0],
		.on_event = consumer_on_record,
		.ctx = &a->consumer,
	};
	int n, err;

	if ((err = probe_preflight()))
		return err;
	if ((err = telemetry_init(&a->tel, a->cfg->max_series, a->cfg->k8s_labels)))
		return err;
	if ((err = tls_metrics_init(&a->tlsm, a->tel.reg)) || (err = reloads_init(a)))
		return err;
	a->biz = business_new(a->tel.reg, a->cfg->counters, a->cfg->n_counters);
	if (!a->biz) {
		err = -errno;
		log_error("cannot register the business counters: %s", strerror(errno));
		return err;
	}
	a->routes = route_table_new((const char *const *)a->cfg->routes, a->cfg->n_routes,
				    a->cfg->route_cap);
	if (!a->routes)
		return -errno;
	a->obs = (struct observer){ .tel = &a->tel, .routes = a->routes, .biz = a->biz };
	if (a->cfg->events_file[0]) {
		err = events_init(&a->events, a->cfg->events_file, a->cfg->events_filter,
				  a->cfg->events_path, a->tel.reg);
		a->bad_config = err != 0;
		if (err)
			return err;
		a->obs.events = &a->events;
	}
	if (a->cfg->tcp_health &&
	    (err = tcp_health_init(&a->tcp, a->tel.reg, a->cfg->max_series, a->cfg->k8s_labels)))
		return err;
	if ((err = procs_init(&a->procs, a->cfg, &a->kctl, "/proc")))
		return err;
	if ((err = consumer_init(&a->consumer, &a->procs, &a->obs, &a->kctl)))
		return err;
	if ((err = loader_open(&a->loader, &o)))
		return err;
	a->kctl = loader_ctl(&a->loader);
	a->tcp_src = tcp_maps_source(&a->loader);
	telemetry_set_build(&a->tel, capture_mode_name(a->loader.mode));
	/* Loading parsed the kernel's BTF (megabytes), now freed: give the pages back. */
	malloc_trim(0);
	add_kernel_rules(a);
	n = select_running(a);
	/* HTTP last: once /healthz answers, the programs are attached and the running
	 * processes selected, so a client may rely on its traffic being seen. */
	refresh(a);
	a->httpd = httpd_start_web(a->cfg->listen_host, a->cfg->listen_port, a->cfg->web,
				   a->tel.reg, status_copy, a);
	if (!a->httpd) {
		err = -errno;
		log_error("cannot listen on %s:%u: %s%s", a->cfg->listen_host, a->cfg->listen_port,
			  strerror(errno),
			  errno == EADDRINUSE ? " (another process has it; use --listen)" : "");
		return err;
	}
	log_info("capture path %s, %u programs attached, %d processes selected, metrics on "
		 "%s://%s:%u/metrics",
		 capture_mode_name(a->loader.mode), a->loader.attached, n,
		 a->cfg->web && a->cfg->web->tls ? "https" : "http", a->cfg->listen_host,
		 httpd_port(a->httpd));
	return 0;
}

/* Stop order: HTTP first (no scrape sees half-torn state), then the BPF links. */
static void agent_stop(struct agent *a)
{
	httpd_stop(a->httpd);
	a->httpd = NULL;
	loader_close(&a->loader);
	consumer_free(&a->consumer);
	if (a->cfg->tcp_health)
		tcp_health_free(&a->tcp);
	events_free(&a->events); /* after the last exchange the connections flushed */
	business_free(a->biz);
	a->biz = NULL;
	procs_free(&a->procs);
	route_table_free(a->routes);
	telemetry_free(&a->tel);
}

/* comm= rules also select in the kernel at exec: the map follows the rules. old: the
 * rules before the reload. */
/* Returns whether a comm= rule could not be added to the kernel. */
static bool reload_comm_rules(struct agent *a, const struct config *old)
{
	const struct config *cfg = a->cfg;
	bool missed = false;
	int err;

	for (size_t i = 0; i < old->n_rules; i++) {
		bool kept = false;

		if (old->rules[i].kind != SELECT_COMM)
			continue;
		for (size_t j = 0; j < cfg->n_rules && !kept; j++)
			kept = cfg->rules[j].kind == SELECT_COMM &&
			       !strncmp(cfg->rules[j].text, old->rules[i].text, SONDE_COMM_LEN - 1);
		if (!kept && (err = loader_del_comm_rule(&a->loader, old->rules[i].text)))
			log_warn("comm=%s: cannot remove the rule from the kernel (%s)",
				 old->rules[i].text, strerror(-err));
	}
	for (size_t i = 0; i < cfg->n_rules; i++)
		if (cfg->rules[i].kind == SELECT_COMM &&
		    (err = loader_add_comm_rule(&a->loader, cfg->rules[i].text))) {
			log_warn("comm=%s: cannot select at exec in the kernel (%s)",
				 cfg->rules[i].text, strerror(-err));
			missed = true;
		}
	return missed;
}

/* Whether a and b have the same cgroup= rules, in the same order (the kernel's slots). */
static bool cgroup_rules_equal(const struct config *a, const struct config *b)
{
	size_t i = 0, j = 0;

	for (;; i++, j++) {
		while (i < a->n_rules && a->rules[i].kind != SELECT_CGROUP)
			i++;
		while (j < b->n_rules && b->rules[j].kind != SELECT_CGROUP)
			j++;
		if (i == a->n_rules || j == b->n_rules)
			return i == a->n_rules && j == b->n_rules;
		if (strcmp(a->rules[i].text, b->rules[j].text))
			return false;
	}
}

/* The reloadable keys that changed (r->changed) take effect; old: the config before. */
static void reload_apply(struct agent *a, const struct config *old, unsigned changed)
{
	const struct config *cfg = a->cfg;
	struct events_filter filter;
	char why[128];
	int n, err;

	if (changed & CFG_SELECT) {
		/* more execs reported from here on, or fewer: those of the new rules */
		set_exec_events(a, reload_comm_rules(a, old));
		if (!cgroup_rules_equal(old, cfg)) {
			set_cgroup_rules(a);
			/* Records the old rules made (a process they selected meanwhile) are
			 * handled before the scan, which then unselects it if no rule keeps it. */
			loader_poll(&a->loader, 0);
		}
		if ((n = procs_reselect(&a->procs)) < 0)
			log_warn("scanning /proc after the reload failed: %s", strerror(-n));
	}
	if ((changed & (CFG_ROUTES | CFG_ROUTE_CAP)) &&
	    (err = route_table_reconfigure(a->routes, (const char *const *)cfg->routes,
					   cfg->n_routes, cfg->route_cap)))
		log_error("cannot apply the new routes: %s; the old ones stay", strerror(-err));
	/* the config checked the filter already: this parse cannot fail */
	if ((changed & CFG_EVENTS_FILTER) && a->obs.events &&
	    events_filter_parse(&filter, cfg->events_filter, why, sizeof(why)) == 0)
		a->events.filter = filter;
	if (changed & CFG_EVENTS_PATH)
		a->events.path = cfg->events_path;
	if (changed & CFG_VERBOSE)
		log_set_verbosity(cfg->verbose);
}

/* SIGHUP: the command line and the files parsed again; see config_reload_merge. */
static void agent_reload(struct agent *a)
{
	struct config next;
	struct config_reload r;
	char why[512], keys[256];
	const char *result = "ok";

	if (config_reload_parse(&next, a->argc, a->argv, why, sizeof(why))) {
		log_error("config reload refused, the running config stays: %s", why);
		metric_add(a->m_reloads, (const char *const[]){ "error" }, 1);
		return;
	}
	config_reload_merge(a->cfg, &next, &r); /* next now holds the old values */
	if (r.refused) {
		bool many = r.refused & (r.refused - 1);

		config_keys_text(r.refused, keys, sizeof(keys));
		log_error("config reload: %s cannot change while sonde runs; %s kept (restart "
			  "sonde to apply %s)",
			  keys, many ? "their running values are" : "its running value is",
			  many ? "them" : "it");
		result = "error";
	}
	reload_apply(a, &next, r.changed);
	config_keys_text(r.changed, keys, sizeof(keys));
	log_info("config reloaded: %s%s; %u processes selected", r.changed ? "changed " : "",
		 r.changed ? keys : "no reloadable key changed", procs_count(&a->procs));
	metric_add(a->m_reloads, (const char *const[]){ result }, 1);
	config_free(&next);
}

static void on_reopen(int sig)
{
	sink_reopen_request();
}

/* SIGHUP: the event loop reloads the config (never here: it allocates and logs); the
 * events file is reopened at once, as before reloading existed. */
static void on_hangup(int sig)
{
	reload_requested = 1;
	if (sig == SIGHUP && reopen_on_hup)
		sink_reopen_request();
}

static void install_signals(const struct config *cfg)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct sigaction re = { .sa_handler = on_reopen, .sa_flags = SA_RESTART };
	struct sigaction hup = { .sa_handler = on_hangup };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&re.sa_mask);
	sigemptyset(&hup.sa_mask);
	reopen_on_hup = cfg->events_file[0] != '\0';
	if (reopen_on_hup) /* log rotation: the events file is opened again */
		sigaction(SIGUSR1, &re, NULL);
	/* no SA_RESTART: the ring buffer's epoll_wait returns at once with EINTR */
	sigaction(SIGHUP, &hup, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int agent_run(struct config *cfg, int argc, char **argv)
{
	static struct agent a; /* large; and the HTTP threads reach it through status_copy */
	uint64_t next_refresh = 0, next_expire = 0, now = 0;
	bool busy = true;
	int err;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.argc = argc;
	a.argv = argv;
	pthread_mutex_init(&a.status_lock, NULL);
	a.status.started_unix = time(NULL);
	install_signals(cfg);
	err = agent_start(&a);
	while (!err && !stop_requested) {
		int wait = busy ? POLL_MS : idle_ms(now, next_refresh);
		int n = loader_poll(&a.loader, loader_tls_pending(&a.loader) ? TLS_POLL_MS : wait);

		/* Lingering connections end by the clock: keep polling often for them. */
		busy = n > 0 || a.consumer.conns.linger_head;
		if (n < 0 && n != -EINTR) {
			log_error("ring buffer poll failed: %s", strerror(-n));
			err = n;
		}
		loader_tls_collect(&a.loader);
		if (reload_requested) {
			reload_requested = 0;
			agent_reload(&a);
		}
		now = monotonic_ns();
		if (now >= next_refresh) {
			loader_tls_rescan(&a.loader);
			refresh(&a);
			tcp_harvest(&a, now);
			expire_services(&a, now); /* within a second of the grace */
			next_refresh = now + REFRESH_NS;
		}
		if (now >= next_expire) {
			conns_expire(&a.consumer.conns, now, CONN_IDLE_NS);
			next_expire = now + EXPIRE_EVERY_NS;
		}
		conns_tick(&a.consumer.conns, now); /* closes held back: when no record comes */
	}
	if (!err)
		log_info("stopping on signal");
	agent_stop(&a);
	return err ? (a.bad_config ? 2 : 1) : 0;
}

int agent_check(const struct config *cfg)
{
	struct probe_result res[8];
	size_t n;
	bool capture_ok = false;
	int err = probe_preflight();

	if (err)
		return 1;
	n = probe_kernel(res, 8);
	printf("%-22s %-5s %s\n", "CAPABILITY", "OK", "DETAIL");
	for (size_t i = 0; i < n; i++) {
		bool is_socket = !strcmp(res[i].name, "socket tracepoints");
		bool is_syscall = !strcmp(res[i].name, "syscall tracepoints");

		printf("%-22s %-5s %s\n", res[i].name, res[i].ok ? "yes" : "no", res[i].detail);
		if (res[i].ok && ((is_socket && cfg->capture != CAPTURE_SYSCALLS) ||
				  (is_syscall && cfg->capture != CAPTURE_SOCKET)))
			capture_ok = true;
	}
	printf("capture path for --capture %s: %s\n", capture_mode_name(cfg->capture),
	       capture_ok ? "available" : "NONE: sonde cannot capture on this kernel");
	return capture_ok ? 0 : 1;
}
