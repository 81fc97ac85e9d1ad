/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * From protocol messages to samples: turns one HTTP exchange or database operation of a
 * connection into the labels of its metric families (method, route template, status,
 * addresses, service) and observes it; also the consumer's self-metrics (parse errors,
 * unanswered requests, unsupported protocols). In: exchanges and ops. Out: registry samples.
 */
#ifndef SONDE_METRICS_OBSERVE_H
#define SONDE_METRICS_OBSERVE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics/ctx_labels.h"

struct telemetry;
struct route_table;
struct business;
struct http1_exchange;
struct db_op;
struct events;

struct observer {
	struct telemetry *tel;
	struct route_table *routes;
	struct business *biz;  /* business counters (--counter); NULL: none */
	struct events *events; /* JSON lines (--events); NULL: off */
};

struct series;

/*
 * Series handles of one connection's recent label sets, so that a repeat exchange costs
 * integer compares (HTTP: method id, status, route id) or two short string compares
 * (databases: operation, error type), and no hashing. A connection is HTTP or database
 * for its whole life; the label values of struct conn_peer never change once set.
 */
#define OBS_HTTP_SLOTS 8
#define OBS_DB_SLOTS 8

struct obs_http_slot {
	uint64_t key; /* 0: empty */
	struct series *s[3];
};

struct obs_db_slot {
	struct series *s; /* NULL: empty */
	char operation[32], error_type[32];
};

struct obs_cache {
	uint32_t svc; /* route_service() id of the peer's service, when has_svc */
	bool has_svc;
	uint8_t kind; /* what the slots hold: 0 nothing yet, else OBS_HTTP or OBS_DB */
	uint32_t gen; /* telemetry's generation the slots were filled in */
	uint8_t next; /* the slot the next miss replaces (round robin) */
	union {
		struct obs_http_slot http[OBS_HTTP_SLOTS];
		struct obs_db_slot db[OBS_DB_SLOTS];
	};
};

/* The label values a connection gives every sample of its own, and its series cache
 * (zeroed with the connection, filled by observe_http/observe_db). */
struct conn_peer {
	char service[128]; /* service_name of the owning process */
	char address[INET6_ADDRSTRLEN +
		     64];		  /* the peer: IP (v4-mapped shown as IPv4) or Unix path */
	char local_port[8], peer_port[8]; /* "" for Unix sockets */
	struct ctx_labels ctx;		  /* the owner's container and pod (--k8s-labels) */
	struct obs_cache cache;
	bool tls; /* read through the TLS probes: url_scheme https */
};

/* server: the process answered the exchange (server_port = local port, route templated);
 * else it sent the request (server_address/server_port = the peer). */
void observe_http(const struct observer *o, struct conn_peer *peer, bool server,
		  const struct http1_exchange *ex);
/* system: "postgresql" or "redis". */
void observe_db(const struct observer *o, struct conn_peer *peer, const char *system,
		const struct db_op *op);

void observe_parse_errors(const struct observer *o, const char *protocol, uint64_t n);
void observe_unanswered(const struct observer *o, const char *protocol, uint64_t n);
void observe_incomplete(const struct observer *o, const char *protocol, uint64_t n);
void observe_unsupported(const struct observer *o, const char *protocol);

#endif
