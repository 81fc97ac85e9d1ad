/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TLS targets: for each selected process, the TLS library whose plaintext sonde reads and
 * the uprobes attached to it. OpenSSL (libssl mapped in the process): probes on SSL_read,
 * SSL_write, their _ex variants, SSL_do_handshake, SSL_shutdown and SSL_free, attached for
 * that process only (other users of the library never trap). A process lacking a TLS
 * library is looked at again now and then (Python maps libssl at "import ssl").
 * Offsets are computed once per library file (device, inode), off the event loop
 * (tls_inspect.h): a process whose file is being inspected is probed when
 * uprobes_collect() takes the result.
 * In: tgids from procs/ (through kernel_ctl). Out: uprobe links, the tls_tgids bitmap.
 */
#ifndef SONDE_KERNEL_UPROBES_H
#define SONDE_KERNEL_UPROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hashmap.h"

struct sonde_bpf;

enum tls_library {
	TLS_LIB_NONE = 0, /* no TLS library found (yet) */
	TLS_LIB_OPENSSL,
	TLS_LIB_GO,
	TLS_LIB_NR,
};

enum tls_state {
	TLS_STATE_NONE = 0, /* nothing to probe */
	TLS_STATE_PROBED,   /* probes attached: plaintext is read */
	TLS_STATE_FAILED,   /* a library was found but not probed (see reason) */
	TLS_STATE_NR,
};

/* Why a library found was not probed: the reason label of sonde_tls_targets. */
enum tls_reason {
	TLS_REASON_NONE = 0,
	TLS_REASON_UNREADABLE,	   /* the file cannot be opened or is not ELF */
	TLS_REASON_NO_SYMBOL,	   /* a function to probe is missing */
	TLS_REASON_ATTACH,	   /* the kernel refused a uprobe */
	TLS_REASON_GO_VERSION,	   /* Go version unknown, older than 1.17 (no register ABI), or
				* newer than the offsets table with no DWARF to read them */
	TLS_REASON_GO_UNDECODABLE, /* a function did not decode fully: its RETs are unknown */
	TLS_REASON_GO_ARCH,	   /* not an x86-64 executable */
	TLS_REASON_NR,
};

#define TLS_DETAIL_LEN 192

struct tls_target_info {
	uint32_t tgid;
	uint32_t nstgid; /* its pid in its own namespace; 0 or tgid: the same */
	enum tls_library lib;
	enum tls_state state;
	enum tls_reason reason;	     /* why FAILED */
	char detail[TLS_DETAIL_LEN]; /* the reason in words, for the log and /health */
	char path[256];		     /* the library or executable probed */
};

struct uprobes {
	struct sonde_bpf *skel;
	const char *proc_root;
	uint64_t *bits;		     /* mmap of the tls_tgids bitmap (OpenSSL-probed processes) */
	uint64_t *go_bits;	     /* mmap of the go_tls_tgids bitmap (Go crypto/tls) */
	size_t bits_size;	     /* of each */
	struct hashmap targets;	     /* tgid -> struct tls_target */
	struct hashmap files;	     /* (dev, inode) hash -> struct tls_file (offsets cache) */
	struct hashmap inflight;     /* (dev, inode) hash -> struct tls_file being inspected */
	struct inspector *inspector; /* NULL: files are inspected on the event loop */
	size_t links;		     /* uprobe links attached in all */
	struct reaper *reaper;	     /* destroys the links of processes gone (link_reaper.h) */
	bool closing;		     /* uprobes_free(): the maps go with the skeleton */
};

/* 0 or -errno. The skeleton must be loaded. */
int uprobes_init(struct uprobes *u, struct sonde_bpf *skel, const char *proc_root);
void uprobes_free(struct uprobes *u); /* detaches everything; accepts a zeroed one */

/* (Re)examines a selected process (start-up, fork, exec): finds its TLS library and
 * attaches the probes, or keeps those it has when the library is the same. nstgid: its pid
 * in its own namespace (0: unknown), shown beside tgid. 0 or -errno. */
int uprobes_track(struct uprobes *u, uint32_t tgid, uint32_t nstgid);
/* The process left the selection or exited: detaches its probes. */
void uprobes_untrack(struct uprobes *u, uint32_t tgid);
/* Looks again at processes without a TLS library, at most every few seconds each. */
void uprobes_rescan(struct uprobes *u, uint64_t now_ns);
/* Takes the files inspected since, and probes the processes that waited for them. */
void uprobes_collect(struct uprobes *u);
/* Whether a file is being inspected (uprobes_collect() will have work). */
bool uprobes_pending(const struct uprobes *u);
/* Collects until no file is being inspected, or timeout_ms has passed (start-up). */
void uprobes_settle(struct uprobes *u, unsigned timeout_ms);

/* Whether tgid's TLS library is probed (its TLS connections will show plaintext), or is
 * about to be (its file is being inspected). */
bool uprobes_probed(const struct uprobes *u, uint32_t tgid);
/* Copies up to max targets' descriptions; returns how many there are. */
size_t uprobes_list(const struct uprobes *u, struct tls_target_info *out, size_t max);

const char *tls_library_name(enum tls_library lib);
const char *tls_state_name(enum tls_state st);
const char *tls_reason_name(enum tls_reason r);

#endif
