// SPDX-License-Identifier: GPL-2.0-only
/*
 * tcp_churn connect N [gate]:    N TCP connections on loopback, both ends in this process:
 *                                connect, accept, the client closes, then the server (no
 *                                data).
 * tcp_churn roundtrip N [gate]:  one loopback TCP connection, N round trips of 1 byte each
 *                                way.
 * With "gate", it prints "ready" once its listener is up and waits for a line on stdin
 * before the load: a measured window then holds the load and not the process's start.
 * The load of the bench's tcp section (tcp_cost.py): the first is what TCP health costs
 * per connection, the second shows that it adds nothing on the data path. Prints one JSON
 * line: the count done and this process's CPU time (CLOCK_PROCESS_CPUTIME_ID), in ns.
 * Build: cc -O2 -o tcp_churn tcp_churn.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int die(const char *what)
{
	fprintf(stderr, "tcp_churn: %s: %s\n", what, strerror(errno));
	return 1;
}

/* A listener on 127.0.0.1, any free port; its address in *addr. */
static int listener(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)addr, &len))
		return -1;
	return fd;
}

/* A connected pair: *cli connected to the listener, *srv its accepted end. */
static int pair(int lfd, const struct sockaddr_in *addr, int *cli, int *srv)
{
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	if (*cli < 0 || connect(*cli, (const struct sockaddr *)addr, sizeof(*addr)))
		return -1;
	*srv = accept(lfd, NULL, NULL);
	return *srv < 0 ? -1 : 0;
}

static int churn(int lfd, const struct sockaddr_in *addr, long n)
{
	for (long i = 0; i < n; i++) {
		int cli, srv;

		if (pair(lfd, addr, &cli, &srv))
			return die("connect/accept");
		close(cli); /* the client closes first: TIME_WAIT on its side, reusable */
		close(srv);
	}
	return 0;
}

static int roundtrips(int lfd, const struct sockaddr_in *addr, long n)
{
	int cli, srv, one = 1;
	char c = 'x';

	if (pair(lfd, addr, &cli, &srv))
		return die("connect/accept");
	setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (long i = 0; i < n; i++) {
		if (write(cli, &c, 1) != 1 || read(srv, &c, 1) != 1 || write(srv, &c, 1) != 1 ||
		    read(cli, &c, 1) != 1)
			return die("round trip");
	}
	close(cli);
	close(srv);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0;
	struct sockaddr_in addr;
	long long t0;
	int lfd, err;

	if (argc < 3 || argc > 4 || n < 1 || (argc == 4 && strcmp(argv[3], "gate")) ||
	    (strcmp(argv[1], "connect") && strcmp(argv[1], "roundtrip"))) {
		fprintf(stderr, "usage: %s connect|roundtrip N [gate]\n", argv[0]);
		return 2;
	}
	lfd = listener(&addr);
	if (lfd < 0)
		return die("listen");
	if (argc == 4) {
		char line[8];

		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return die("gate");
	}
	t0 = cpu_ns();
	err = strcmp(argv[1], "connect") ? roundtrips(lfd, &addr, n) : churn(lfd, &addr, n);
	if (err)
		return err;
	printf("{\"mode\": \"%s\", \"n\": %ld, \"cpu_ns\": %lld, \"port\": %d}\n", argv[1], n,
	       cpu_ns() - t0, ntohs(addr.sin_port));
	return 0;
}
