// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process and connection lifecycle: fork children of selected processes are selected in
 * the kernel (prefork servers such as nginx workers never exec, and user space would see
 * them too late); exec and listen are reported so user space can re-evaluate its rules; a
 * process leaves the allow map when its last thread exits; TCP close ends a connection;
 * and TCP health follows each socket's state (tcp.bpf.h).
 *
 * cgroup= rules are decided here too, for the same reason: a short-lived client started
 * in a selected cgroup is done before user space could read its /proc/PID/cgroup. A
 * process is selected when one of its cgroups (v2 or any v1 hierarchy) is in cgroup_ids:
 * at fork (the child of clone3(CLONE_INTO_CGROUP) starts in another cgroup than its
 * parent, with no attach), at exec, and when it is moved into such a cgroup (attach).
 * cgroup_ids holds the cgroups whose path matches a rule: user space adds those that
 * exist at start, sonde_cgroup_mkdir those made later. No attach can beat the mkdir
 * program: cgroup_mkdir() runs its tracepoint under cgroup_mutex, before it activates the
 * directory, and attaching a task (cgroup.procs, tasks, CLONE_INTO_CGROUP) takes the same
 * mutex. A SIGHUP may replace the rules: see loader_set_cgroup_rules for the order of the
 * updates. A selected process moved to cgroups no rule selects is reported, and user space
 * unselects it unless another rule keeps it. The data path stays one bitmap check.
 */
#include "tcp.bpf.h"
#include "tls.bpf.h"

/* Hierarchies a task's css_set links to: the v2 tree plus every v1 one (at most one per
 * controller, CGROUP_SUBSYS_COUNT <= 16 here, plus named ones such as name=systemd). */
#define SONDE_CGROUP_WALK 32

/* Whether one of the task's cgroups is in cgroup_ids. The css_set's cgrp_links list has
 * one link per hierarchy, named ones included (which css_set->subsys[] misses). Read with
 * CO-RE rather than through kfuncs: no reference to take, one hash lookup per hierarchy. */
static __always_inline bool task_cgroup_selected(struct task_struct *t)
{
	struct css_set *cset = BPF_CORE_READ(t, cgroups);
	struct list_head *head, *pos;
	__u64 off = bpf_core_field_offset(struct cgrp_cset_link, cgrp_link);

	if (!cset)
		return false;
	head = &cset->cgrp_links;
	pos = BPF_CORE_READ(cset, cgrp_links.next);
	for (int i = 0; i < SONDE_CGROUP_WALK; i++) {
		struct cgrp_cset_link *link = (void *)pos - off;
		__u64 id;

		if (!pos || pos == head)
			return false;
		id = BPF_CORE_READ(link, cgrp, kn, id);
		if (bpf_map_lookup_elem(&cgroup_ids, &id))
			return true;
		pos = BPF_CORE_READ(pos, next);
	}
	count_lost(SONDE_LOST_CGROUP);
	return false;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sonde_fork, struct task_struct *parent, struct task_struct *child)
{
	struct sonde_proc_event ev = {};
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);

	/* A new thread shares its tgid: nothing to do. */
	if (ptgid == ctgid)
		return 0;
	if (!tgid_allowed(ptgid)) {
		if (!cgroup_rules || !cgroup_any || !task_cgroup_selected(child))
			return 0;
		ev.flags = SONDE_PROC_CGROUP;
	}
	if (tgid_allow(ctgid, true)) {
		count_lost(SONDE_LOST_ALLOW_FULL);
		return 0;
	}
	fill_hdr(&ev.hdr, SONDE_EV_PROC_FORK, (__u64)ctgid << 32 | (__u32)BPF_CORE_READ(child, pid),
		 bpf_ktime_get_ns());
	ev.ppid = ptgid;
	BPF_CORE_READ_STR_INTO(&ev.comm, child, comm);
	rec_output(&ev, sizeof(ev), REC_URGENT);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sonde_exec, struct task_struct *p)
{
	struct sonde_proc_event ev = {};
	__u32 tgid = BPF_CORE_READ(p, tgid);

	bpf_probe_read_kernel_str(ev.comm, sizeof(ev.comm), p->comm);
	if (bpf_map_lookup_elem(&comm_rules, ev.comm)) {
		tgid_allow(tgid, true);
	} else if (cgroup_rules && cgroup_any && task_cgroup_selected(p)) {
		/* Flagged even if selected already: user space then keeps it without matching
		 * /proc/PID/cgroup again (gone for a short-lived process by then). */
		if (tgid_allow(tgid, true))
			count_lost(SONDE_LOST_ALLOW_FULL);
		ev.flags = SONDE_PROC_CGROUP;
	}
	if (!exec_events && !tgid_allowed(tgid))
		return 0;
	fill_hdr(&ev.hdr, SONDE_EV_PROC_EXEC, bpf_get_current_pid_tgid(), bpf_ktime_get_ns());
	ev.ppid = BPF_CORE_READ(p, real_parent, tgid);
	rec_output(&ev, sizeof(ev), REC_URGENT);
	return 0;
}

/* Only the task argument is read: it exists on every kernel (a group_dead flag was added
 * later), and signal->live, decremented before this tracepoint, says whether the whole
 * thread group is gone. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sonde_exit, struct task_struct *p)
{
	struct sonde_proc_event ev = {};
	__u32 tgid = BPF_CORE_READ(p, tgid);
	__u64 pid_tgid = bpf_get_current_pid_tgid(); /* the exiting thread (p is current) */

	if (!tgid_allowed(tgid))
		return 0;
	/* A thread killed inside a TLS call: its entry would stay (the map is not an LRU,
	 * which would evict live entries silently). */
	bpf_map_delete_elem(&tls_calls, &pid_tgid);
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	tgid_allow(tgid, false);
	fill_hdr(&ev.hdr, SONDE_EV_PROC_EXIT, bpf_get_current_pid_tgid(), bpf_ktime_get_ns());
	BPF_CORE_READ_STR_INTO(&ev.comm, p, comm);
	rec_output(&ev, sizeof(ev), REC_URGENT);
	return 0;
}

/*
 * A task moved into a selected cgroup: selected from now on, and user space told (it may
 * read /proc too late for a short-lived process). A selected one moved to where none of
 * its cgroups is selected any more: user space told, unflagged; it decides whether
 * another rule (or an observed parent) keeps the process, which the kernel cannot know.
 * The tracepoint fires once per write, after the migration succeeded, naming the thread
 * group leader (cgroup.procs) or the one thread moved (v1 "tasks"). The writer may be
 * another process (a container runtime): the header names the moved task.
 */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(sonde_cgroup_attach, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	struct sonde_proc_event ev = {};
	__u64 id = BPF_CORE_READ(dst, kn, id);
	__u32 tgid = BPF_CORE_READ(task, tgid);

	if (bpf_map_lookup_elem(&cgroup_ids, &id)) {
		if (tgid_allowed(tgid))
			return 0;
		if (tgid_allow(tgid, true)) {
			count_lost(SONDE_LOST_ALLOW_FULL);
			return 0;
		}
		ev.flags = SONDE_PROC_CGROUP;
	} else if (!cgroup_any || !tgid_allowed(tgid) || task_cgroup_selected(task)) {
		return 0;
	}
	fill_hdr(&ev.hdr, SONDE_EV_PROC_CGROUP, (__u64)tgid << 32 | (__u32)BPF_CORE_READ(task, pid),
		 bpf_ktime_get_ns());
	ev.ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&ev.comm, task, comm);
	rec_output(&ev, sizeof(ev), REC_URGENT);
	return 0;
}

static long glob_step_cb(__u32 i, void *ctx)
{
	__u32 zero = 0, slot;
	struct sonde_cgroup_path *p = bpf_map_lookup_elem(&cgroup_path_buf, &zero);
	struct sonde_cgroup_glob *g;

	if (!p)
		return 1;
	slot = p->slot;
	g = bpf_map_lookup_elem(&cgroup_globs, &slot);
	if (!g)
		return 1;
	return sonde_glob_step(&p->st, g->glob, p->path);
}

/* Whether buf->path matches the glob in slot: 1, 0, or -1 when the glob is unused or the
 * steps ran out (cannot happen for terminated inputs). */
static __always_inline int cgroup_glob_match(struct sonde_cgroup_path *buf, __u32 slot)
{
	struct sonde_cgroup_glob *g = bpf_map_lookup_elem(&cgroup_globs, &slot);

	if (!g || !g->glob[0])
		return -1;
	buf->st = (struct sonde_glob_state){ .result = -1 };
	buf->slot = slot;
	bpf_loop(SONDE_GLOB_STEPS, glob_step_cb, NULL, 0);
	if (buf->st.result < 0)
		count_lost(SONDE_LOST_CGROUP);
	return buf->st.result;
}

/* A cgroup made after start: selected if its path (within its hierarchy, as in
 * /proc/PID/cgroup) matches a rule. Matched here, not in user space, so it is in
 * cgroup_ids before anything can be attached to it (see the top of this file). The entry
 * carries the generation read before the globs: a reload (loader_set_cgroup_rules) writes
 * the new globs before the new generation, so an entry of the new generation was matched
 * against the new globs only, and one of an older generation is checked again. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(sonde_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	__u32 zero = 0;
	struct sonde_cgroup_path *buf = bpf_map_lookup_elem(&cgroup_path_buf, &zero);
	__u32 gen = cgroup_gen;
	__u64 id;
	long n;

	/* no load of a glob before the generation's (x86 keeps loads in order) */
	asm volatile("" ::: "memory");
	if (!buf)
		return 0;
	n = bpf_probe_read_kernel_str(buf->path, sizeof(buf->path), path);
	if (n <= 0)
		return 0;
	if (n >= (long)sizeof(buf->path)) {
		count_lost(SONDE_LOST_CGROUP); /* maybe cut: undecidable */
		return 0;
	}
	for (__u32 slot = 0; slot < SONDE_CGROUP_GLOBS; slot++) {
		if (cgroup_glob_match(buf, slot) != 1)
			continue;
		id = BPF_CORE_READ(cgrp, kn, id);
		if (bpf_map_update_elem(&cgroup_ids, &id, &gen, BPF_ANY))
			count_lost(SONDE_LOST_CGROUP);
		break;
	}
	return 0;
}

/* kernfs ids are never reused on 64-bit, but a removed cgroup's entry would only take
 * room: pods come and go. */
SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(sonde_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	__u64 id = BPF_CORE_READ(cgrp, kn, id);

	bpf_map_delete_elem(&cgroup_ids, &id);
	return 0;
}

/*
 * At TCP close: the id of a connection sonde reported, whose close is to be reported now; 0
 * for any other socket, or when it was reported already. Its state is forgotten: an I/O
 * after this (a late EOF, a write that met the peer's reset) starts a new connection, which
 * user space joins to the closed one (consumer/conns.h). Except a TLS connection's: its
 * late I/O is ciphertext, never a connection of its own (Go's crypto/tls Conn.Close writes
 * its close_notify alert on the socket itself, outside any probed call, and on loopback
 * the client's reset closes the socket inside that write). Its state stays, closed, so that
 * the data path drops that I/O as it drops all of a TLS connection's socket bytes; it goes
 * with the socket (socket storage; the conns entry at sonde_sock_destroy).
 */
static __always_inline __u64 conn_forget(struct sock *sk, __u64 off[2])
{
	struct conn_state *st;
	__u64 key = (__u64)sk, id;

	if (sock_storage)
		st = bpf_sk_storage_get(&conn_store, sk, 0, 0);
	else
		st = bpf_map_lookup_elem(&conns, &key);
	if (!st || st->closed)
		return 0;
	id = st->id;
	off[0] = st->off[0];
	off[1] = st->off[1];
	/* The Go probes look the socket up no more (their I/O after the close is dropped). */
	if (st->go_copied)
		bpf_map_delete_elem(&tls_socks, &key);
	if (id && conn_tls(st))
		st->closed = 1;
	else if (sock_storage)
		bpf_sk_storage_delete(&conn_store, sk);
	else
		bpf_map_delete_elem(&conns, &key);
	return id;
}

static __always_inline void conn_closed(struct sock *sk, __u64 id, const __u64 off[2])
{
	struct sonde_conn_event ev = {};

	fill_hdr(&ev.hdr, SONDE_EV_CONN_CLOSE, bpf_get_current_pid_tgid(), bpf_ktime_get_ns());
	ev.conn_id = id;
	ev.off[0] = off[0];
	ev.off[1] = off[1];
	ev.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	rec_output(&ev, sizeof(ev), REC_PACED);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sonde_sock_state, struct sock *sk, int oldstate, int newstate)
{
	__u64 id, off[2];

	tcp_health_state(sk, oldstate, newstate);

	if (newstate == TCP_LISTEN_STATE && listen_events) {
		struct sonde_listen_event ev = {};

		fill_hdr(&ev.hdr, SONDE_EV_LISTEN, bpf_get_current_pid_tgid(), bpf_ktime_get_ns());
		ev.port = BPF_CORE_READ(sk, __sk_common.skc_num);
		ev.family = BPF_CORE_READ(sk, __sk_common.skc_family);
		rec_output(&ev, sizeof(ev), REC_URGENT);
		return 0;
	}
	if (newstate == TCP_CLOSE_STATE) {
		id = conn_forget(sk, off);
		if (id)
			conn_closed(sk, id, off);
	}
	return 0;
}

/*
 * Syscall path: a TCP socket is destroyed once it is closed and has no file left, so no
 * I/O can follow. A closed TLS connection's state, kept for its late I/O (conn_forget),
 * goes now: it is not left for a new socket at the same address to replace, which may
 * never come (socket storage needs no such program: it is freed with the socket).
 */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(sonde_sock_destroy, struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct conn_state *st = bpf_map_lookup_elem(&conns, &key);

	if (st && st->closed)
		bpf_map_delete_elem(&conns, &key);
	return 0;
}
