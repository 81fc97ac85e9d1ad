/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Stage config. In: argv (env_args() puts the SONDE_* variables first), the --config file,
 * the --routes-file. Out: one struct config, or one line per error naming what is wrong.
 *
 * Calls go one way: config.c (flags and files: config_parse) -> config_value.c (each value),
 * and both -> options.c (option table, value names, error wording). env_args.c stands apart.
 *
 * Config file format: one "key = value" per line, the key being a long option name
 * (select, listen, route, routes-file, counter, capture, ...); '#' starts a comment;
 * repeatable options may repeat their key. Flags given on the command line override scalar
 * keys of the file and add to its repeatable ones. The full syntax is in `sonde --help` and
 * deploy/sonde.conf.
 */
#ifndef SONDE_CONFIG_H
#define SONDE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct web_config;

/* --ringbuf-bytes: its default and bounds (BPF ring buffers are a power of two of pages;
 * sonde maps the ring, so it counts in its RSS once the ring wraps) */
#define RINGBUF_BYTES_DEFAULT (8u << 20)
#define RINGBUF_BYTES_MIN 4096u
#define RINGBUF_BYTES_MAX (1u << 30)

enum capture_mode {
	CAPTURE_AUTO = 0, /* probe: socket tracepoints if they attach, else syscalls */
	CAPTURE_SOCKET,	  /* tp_btf sock_send_length / sock_recv_length */
	CAPTURE_SYSCALLS, /* syscalls/sys_{enter,exit}_* tracepoints */
};

enum select_kind {
	SELECT_PID,    /* pid=N: that process (and its fork children) */
	SELECT_COMM,   /* comm=NAME: exact task comm (15 chars max, as the kernel cuts it) */
	SELECT_EXE,    /* exe=GLOB: fnmatch() on the executable's full path */
	SELECT_PORT,   /* port=N: processes with a TCP socket listening on port N */
	SELECT_CGROUP, /* cgroup=GLOB: fnmatch() on the process's cgroup v2 or v1 path */
};

#define SELECT_TEXT_MAX 256

struct select_rule {
	enum select_kind kind;
	uint32_t num;		    /* pid or port */
	char text[SELECT_TEXT_MAX]; /* comm, exe glob or cgroup glob */
};

#define COUNTER_NAME_MAX 64 /* characters of a business counter's metric name */

/*
 * --counter NAME METHOD ROUTE STATUS: HTTP server exchanges matching all four are counted
 * in the counter family NAME. status and status_class are both 0 for STATUS '*'.
 */
struct counter_rule {
	char name[COUNTER_NAME_MAX + 1]; /* Prometheus metric name, not sonde_, http_, db_ */
	char method[16];		 /* "GET", "POST", ... as http_request_method, or "*" */
	char route[256];		 /* compared with the http_route label (ROUTE_MAX) */
	uint16_t status;		 /* exact code 100..599, or 0 */
	uint8_t status_class;		 /* 1..5 for "1xx".."5xx", or 0 */
};

struct config {
	struct select_rule *rules; /* --select, in order given */
	size_t n_rules;
	/* --listen host, numeric: IPv4, or IPv6 without brackets; default "0.0.0.0" */
	char listen_host[64];
	uint16_t listen_port; /* --listen port, default 9464; 0 = any free port */
	char **routes;	      /* --route patterns, then --routes-file lines, in order */
	size_t n_routes;
	/* --routes-file, "" when none; relative in a config file: to the file's directory */
	char routes_file[256];
	struct counter_rule *counters; /* --counter, file lines then flags, names unique */
	size_t n_counters;
	enum capture_mode capture; /* --capture, default CAPTURE_AUTO */
	uint32_t capture_bytes;	   /* --capture-bytes: payload prefix per read/write */
	uint32_t ringbuf_bytes;	   /* --ringbuf-bytes: ring buffer size, a power of two */
	uint32_t route_cap;	   /* --route-cap: distinct routes per service, default 200 */
	uint32_t max_series;	   /* --max-series: series per metric family, default 10000 */
	char config_file[256];	   /* --config, "" when none */
	bool check;		   /* --check: capability table, no capture (agent_check) */
	bool tcp_health;	   /* --tcp-health: connection outcomes and totals (default on) */
	char events_file[256];	   /* --events, "" when off, "-" for stdout */
	char events_filter[256];   /* --events-filter, validated; default "all" */
	bool events_path;	   /* --events-path */
	bool k8s_labels;	   /* --k8s-labels: container and pod labels (default off) */
	uint32_t series_grace;	   /* --series-grace: seconds; 0 = keep (default 60) */
	/* --web-config, "" when none; relative in a config file: to the file's directory */
	char web_config[256];
	struct web_config *web; /* that file, loaded and checked; NULL when none */
	int verbose;		/* -v, repeatable */
};

/*
 * Parses argv (and the --config file it names). Returns 0 to run, 1 when a request was
 * fully served (--help, --usage, --version printed to stdout: exit 0), or -EINVAL after
 * printing one line per error to errout naming the flag, key or value at fault (-ENOMEM
 * when out of memory). cfg is overwritten (not freed first); after any return it is safe to
 * pass to config_free, and after an error it holds no allocations.
 */
int config_parse(struct config *cfg, int argc, char **argv, FILE *errout);
/* Frees what config_parse allocated; accepts NULL and zeroed or partially filled configs. */
void config_free(struct config *cfg);

/*
 * Reload (SIGHUP). Each key of the config is one bit; the first group can change while
 * sonde runs, the second is bound to what start-up set up (the listening socket, the BPF
 * programs and their read-only data, the metric families and their labels) and needs a
 * restart. route covers --route, --routes-file and that file's lines.
 */
enum config_key_bit {
	CFG_SELECT = 1u << 0,
	CFG_ROUTES = 1u << 1,
	CFG_ROUTE_CAP = 1u << 2,
	CFG_EVENTS_FILTER = 1u << 3,
	CFG_EVENTS_PATH = 1u << 4,
	CFG_SERIES_GRACE = 1u << 5,
	CFG_VERBOSE = 1u << 6,
	CFG_LISTEN = 1u << 8,
	CFG_CAPTURE = 1u << 9,
	CFG_CAPTURE_BYTES = 1u << 10,
	CFG_MAX_SERIES = 1u << 11,
	CFG_TCP_HEALTH = 1u << 12,
	CFG_EVENTS = 1u << 13,
	CFG_K8S_LABELS = 1u << 14,
	CFG_COUNTER = 1u << 15,
	CFG_WEB_CONFIG = 1u << 16, /* the file's name: its contents are not compared */
	CFG_RINGBUF_BYTES = 1u << 17,
};
#define CFG_RELOADABLE 0xffu

struct config_reload {
	unsigned changed; /* reloadable keys that took their new value */
	unsigned refused; /* keys that changed but need a restart: old value kept */
};

/* The option name of one bit ("select", "listen"), "?" for none. */
const char *config_key_name(unsigned bit);
/* "select, route-cap": the names of the bits set, in the order above; returns the length. */
size_t config_keys_text(unsigned bits, char *buf, size_t size);
/* The bits of the keys whose values differ between a and b. */
unsigned config_changed_keys(const struct config *a, const struct config *b);
/*
 * Moves the reloadable keys that differ from next into live (arrays are swapped: next then
 * holds live's old ones, for config_free) and says in r which changed and which were
 * refused. A refused key keeps live's value.
 */
void config_reload_merge(struct config *live, struct config *next, struct config_reload *r);
/*
 * config_parse again, its error lines caught: on failure (-EINVAL or -ENOMEM) why holds
 * the first one (e.g. "config /etc/sonde.conf:7: listen: ..."), with how many more
 * followed, and next holds nothing to free.
 */
int config_reload_parse(struct config *next, int argc, char **argv, char *why, size_t whylen);

#endif
