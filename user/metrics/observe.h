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

struct telemetry;
struct route_table;
struct business;
struct http1_exchange;
struct db_op;
struct sonde_tcp_event;

struct observer {
	struct telemetry *tel;
	struct route_table *routes;
	struct business *biz;	/* business counters (--counter); NULL: none */
	struct tcp_health *tcp; /* TCP health families (--tcp-health); NULL: off */
};

/* The label values a connection gives every sample of its own. */
struct conn_peer {
	char service[128]; /* service_name of the owning process */
	char address[INET6_ADDRSTRLEN +
		     64];		  /* the peer: IP (v4-mapped shown as IPv4) or Unix path */
	char local_port[8], peer_port[8]; /* "" for Unix sockets */
};

/* server: the process answered the exchange (server_port = local port, route templated);
 * else it sent the request (server_address/server_port = the peer). */
void observe_http(const struct observer *o, const struct conn_peer *peer, bool server,
		  const struct http1_exchange *ex);
/* system: "postgresql" or "redis". */
void observe_db(const struct observer *o, const struct conn_peer *peer, const char *system,
		const struct db_op *op);

/* A TCP health record (bpf/tcp.bpf.c) of a connection the service owns. */
void observe_tcp(const struct observer *o, const char *service, const struct sonde_tcp_event *e);

void observe_parse_errors(const struct observer *o, const char *protocol, uint64_t n);
void observe_unanswered(const struct observer *o, const char *protocol, uint64_t n);
void observe_unsupported(const struct observer *o, const char *protocol);

#endif
