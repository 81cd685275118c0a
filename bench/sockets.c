/* The cost of one sample of the sockets signal, sock_diag against the
 * /proc fallback, as the number of unrelated TCP connections on the host
 * and of connections on the watched port grows. Loopback only. Ticks are
 * idle.interval (5 s) apart in made-up time; sock_diag runs twice: with a
 * discovery (dump) every tick (idle.timeout 150 s, as before discovery
 * periods existed) and with the default 30m timeout (a dump every 60 s,
 * exact lookups of the known connections on the 11 ticks between).
 * Prints one line per case:
 *   unrelated watched backend period_s cpu_us_per_discovery_tick
 *   cpu_us_per_lookup_tick cpu_us_per_sample wall_us_per_sample
 * (per sample: all ticks, amortized; "-": no such ticks). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "monitor-discovery.h"
#include "monitor-sockets.h"
#include "monitor.h"

#define SAMPLES 200

static int listen_any(uint16_t *ret_port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, l) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
		perror("listen");
		exit(1);
	}
	*ret_port = ntohs(a.sin_port);
	return fd;
}

/* Opens connections to the listener until n exist. */
static void connect_up_to(int listen_fd, uint16_t port, int *have, int n)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	for (; *have < n; (*have)++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC) < 0) {
			perror("connect");
			exit(1);
		}
	}
}

static usec_t clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

static void print_us(usec_t total, int n)
{
	if (n > 0)
		printf(" %10.1f", (double)total / n);
	else
		printf(" %10s", "-");
}

static void measure(struct config *c, const char *backend, usec_t timeout, int unrelated,
		    int watched)
{
	struct signal_source s;
	struct monitor_tick t = {0};
	usec_t cpu, wall, cpu_disc = 0, cpu_lookup = 0;
	int n_disc = 0, n_lookup = 0;

	c->idle_timeout = timeout;
	setenv("AGENTBOX_SOCKETS_BACKEND", backend, 1);
	signal_source_init(&s, signal_source_find("sockets"), c);
	if (s.ops->init(&s) < 0)
		exit(1);
	for (int i = 0; i < 5; i++) {
		t.seq++;
		t.now += c->idle_interval;
		s.ops->sample(&s, &t);
	}
	cpu = clock_usec(CLOCK_PROCESS_CPUTIME_ID);
	wall = clock_usec(CLOCK_MONOTONIC);
	for (int i = 0; i < SAMPLES; i++) {
		unsigned long dumps = sockets_dumps(&s);
		usec_t c0 = clock_usec(CLOCK_PROCESS_CPUTIME_ID), dc;

		t.seq++;
		t.now += c->idle_interval;
		if (s.ops->sample(&s, &t) < 0)
			exit(1);
		dc = clock_usec(CLOCK_PROCESS_CPUTIME_ID) - c0;
		if (sockets_dumps(&s) != dumps || streq(backend, "proc")) {
			cpu_disc += dc;
			n_disc++;
		} else {
			cpu_lookup += dc;
			n_lookup++;
		}
	}
	cpu = clock_usec(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	wall = clock_usec(CLOCK_MONOTONIC) - wall;
	if (sockets_tracked(&s) != (size_t)watched) {
		fprintf(stderr, "tracked %zu, expected %d\n", sockets_tracked(&s), watched);
		exit(1);
	}
	printf("%9d %7d %-7s %8.0f", unrelated, watched, backend,
	       streq(backend, "proc") ? (double)c->idle_interval / USEC_PER_SEC
				      : (double)monitor_discovery_period(c) / USEC_PER_SEC);
	print_us(cpu_disc, n_disc);
	print_us(cpu_lookup, n_lookup);
	printf(" %10.1f %10.1f\n", (double)cpu / SAMPLES, (double)wall / SAMPLES);
	s.ops->done(&s);
}

int main(void)
{
	/* counts only grow from case to case */
	static const int cases[][2] = {{0, 1}, {0, 10}, {2000, 10}, {2000, 200}};
	struct rlimit rl = {8192, 8192};
	struct config *c = config_new();
	uint16_t uport, wport;
	int ufd = listen_any(&uport), wfd = listen_any(&wport);
	int have_u = 0, have_w = 0;

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		perror("setrlimit");
	c->idle_ports.n = 1;
	c->idle_ports.port[0] = wport;
	printf("unrelated watched backend period_s cpu_us/discovery cpu_us/lookup_tick "
	       "cpu_us/sample wall_us/sample\n");
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		connect_up_to(ufd, uport, &have_u, cases[i][0]);
		connect_up_to(wfd, wport, &have_w, cases[i][1]);
		measure(c, "netlink", 30 * c->idle_interval, cases[i][0], cases[i][1]);
		measure(c, "netlink", 30 * USEC_PER_MINUTE, cases[i][0], cases[i][1]);
		measure(c, "proc", 30 * USEC_PER_MINUTE, cases[i][0], cases[i][1]);
	}
	config_free(c);
	return 0;
}
