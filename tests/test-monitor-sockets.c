/* The sockets signal against real TCP connections on loopback (IPv4 and
 * IPv6), both backends, and /proc files written by the test. Tick times
 * are made up by the test: the settle time (6 ticks of the default 5 s,
 * 30 s) passes without waiting. config_ports() makes the discovery period
 * one tick (idle.timeout 30 ticks), so most tests dump every tick; the
 * lookup_* tests use the default 30m timeout (a 60 s period) and look at
 * the ticks between discoveries. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/tcp.h>

#include "config.h"
#include "fileio.h"
#include "macro.h"
#include "monitor-discovery.h"
#include "monitor-sockets.h"
#include "monitor.h"
#include "tests.h"

#define SEC(x) ((usec_t)(x)*USEC_PER_SEC)

/* One connection: listener, its client end and its accepted end. */
struct conn {
	int listen_fd, client, server;
	uint16_t port;	      /* the listener's (and server end's) local port */
	uint16_t client_port; /* the client end's local (ephemeral) port */
};

static void conn_close(struct conn *c)
{
	int *fds[] = {&c->listen_fd, &c->client, &c->server};

	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}
#define _cleanup_conn_ _cleanup_(conn_close)
#define CONN_INIT                                                                                  \
	{                                                                                          \
		-1, -1, -1, 0, 0                                                                   \
	}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static socklen_t loopback(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(port);
	return sizeof(*a);
}

/* Listens on a free loopback port (port 0) or on 'port'. */
static int conn_listen(struct conn *c, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t l = loopback(family, port, &ss);
	int one = 1;

	c->listen_fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0)
		return -errno;
	setsockopt(c->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(c->listen_fd, (struct sockaddr *)&ss, l) < 0 || listen(c->listen_fd, 16) < 0)
		return -errno;
	c->port = local_port(c->listen_fd);
	return 0;
}

/* Connects a client to the listener and accepts it. */
static int conn_connect(struct conn *c, int family)
{
	struct sockaddr_storage ss;
	socklen_t l = loopback(family, c->port, &ss);

	c->client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->client < 0)
		return -errno;
	if (connect(c->client, (struct sockaddr *)&ss, l) < 0)
		return -errno;
	c->server = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (c->server < 0)
		return -errno;
	c->client_port = local_port(c->client);
	return 0;
}

static int conn_open(struct conn *c, int family)
{
	int r = conn_listen(c, family, 0);

	return r < 0 ? r : conn_connect(c, family);
}

/* Sends n bytes from one end, reads them at the other, and waits (at
 * most 2 s) until the sender has them acknowledged. */
static int transfer(int from, int to, size_t n)
{
	char buf[4096] = {0};
	size_t got = 0;
	int unacked = 1;

	if (n > sizeof(buf) || write(from, buf, n) != (ssize_t)n)
		return -EIO;
	while (got < n) {
		ssize_t r = read(to, buf, n - got);

		if (r <= 0)
			return -EIO;
		got += (size_t)r;
	}
	for (int i = 0; i < 200 && unacked > 0; i++) {
		if (ioctl(from, TIOCOUTQ, &unacked) < 0)
			return -errno;
		if (unacked > 0)
			usleep(10000);
	}
	return unacked > 0 ? -ETIMEDOUT : 0;
}

static void source_done(struct signal_source *s)
{
	if (s->ops && s->ops->done)
		s->ops->done(s);
}
#define _cleanup_source_ _cleanup_(source_done)

/* Starts the sockets source with a backend ("netlink", "proc" or NULL for
 * auto) and a /proc/net directory (NULL: the real one). */
static int source_start(struct signal_source *s, const struct config *c, const char *backend,
			const char *proc_net)
{
	int r;

	if (backend)
		setenv("AGENTBOX_SOCKETS_BACKEND", backend, 1);
	if (proc_net)
		setenv("AGENTBOX_SOCKETS_PROC_NET", proc_net, 1);
	signal_source_init(s, signal_source_find("sockets"), c);
	r = s->ops->init(s);
	unsetenv("AGENTBOX_SOCKETS_BACKEND");
	unsetenv("AGENTBOX_SOCKETS_PROC_NET");
	return r;
}

static int sample_at(struct signal_source *s, usec_t now)
{
	struct monitor_tick t = {.seq = now / USEC_PER_SEC,
				 .now = now,
				 .realtime = SEC(1700000000) + now,
				 .window = SEC(5)};

	return s->ops->sample(s, &t);
}

/* A config watching ports, with a discovery at every tick. */
static struct config *config_ports(size_t n, const uint16_t *ports)
{
	struct config *c = config_new();

	c->idle_timeout = 30 * c->idle_interval;
	c->idle_ports.n = n;
	for (size_t i = 0; i < n; i++)
		c->idle_ports.port[i] = ports[i];
	return c;
}

/* The whole life of one connection on a watched port with a backend: a
 * first sighting and the settle time are not activity, bytes are, silence
 * is not. */
static void connection_life(int family, const char *backend, const char *peer_fmt)
{
	_cleanup_conn_ struct conn k = CONN_INIT;
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_source_ struct signal_source s = {0};
	char want[128];

	ASSERT_OK(conn_listen(&k, family, 0));
	c = config_ports(1, &k.port);
	ASSERT_OK(source_start(&s, c, backend, NULL));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 0);
	ASSERT_STR_EQ(sockets_backend(&s), backend ? backend : "netlink");

	/* a connect is seen (at the next tick), and is not activity by itself */
	ASSERT_OK(conn_connect(&k, family));
	ASSERT_OK(sample_at(&s, SEC(105)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 1);
	ASSERT_UINT_EQ(s.state.last_active, 0);

	/* bytes within the settle time do not count */
	ASSERT_OK(transfer(k.client, k.server, 100));
	ASSERT_OK(sample_at(&s, SEC(110)));
	ASSERT_UINT_EQ(s.state.last_active, 0);

	/* bytes once settled do; the detail names the port and the peer */
	if (backend && streq(backend, "proc")) {
		/* /proc has no counters: leave bytes unread so the queue changes */
		ASSERT_TRUE(write(k.client, "hello", 5) == 5);
	} else
		ASSERT_OK(transfer(k.client, k.server, 100));
	ASSERT_OK(sample_at(&s, SEC(140)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(140));
	snprintf(want, sizeof(want), peer_fmt, k.port, k.client_port);
	ASSERT_STR_EQ(s.state.detail, want);
	ASSERT_FALSE(s.state.degraded);

	/* an open, silent connection is not activity: last_active stays */
	ASSERT_OK(sample_at(&s, SEC(150)));
	ASSERT_OK(sample_at(&s, SEC(200)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(140));
	ASSERT_UINT_EQ(sockets_tracked(&s), 1);

	/* the other direction counts too */
	ASSERT_OK(transfer(k.server, k.client, 3000));
	if (backend && streq(backend, "proc")) {
		char buf[8];

		ASSERT_TRUE(read(k.server, buf, sizeof(buf)) == 5);
	}
	ASSERT_OK(sample_at(&s, SEC(210)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(210));

	/* closed: dropped from the table, nothing counted */
	conn_close(&k);
	ASSERT_OK(sample_at(&s, SEC(220)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 0);
	ASSERT_UINT_EQ(s.state.last_active, SEC(210));
}

TEST(netlink_ipv4_bytes_count_silence_does_not)
{
	connection_life(AF_INET, NULL, "port %u from 127.0.0.1:%u");
}

TEST(netlink_ipv6_bytes_count_silence_does_not)
{
	connection_life(AF_INET6, NULL, "port %u from [::1]:%u");
}

TEST(proc_fallback_ipv4_queue_changes_count)
{
	connection_life(AF_INET, "proc", "port %u from 127.0.0.1:%u");
}

TEST(proc_fallback_ipv6_queue_changes_count)
{
	connection_life(AF_INET6, "proc", "port %u from [::1]:%u");
}

/* A socket whose REMOTE port is the watched one (an outbound connection
 * of this machine) is never looked at: of the two ends of a loopback
 * connection only the one with the watched local port is tracked, and a
 * client end left alone (its server end closed silently with TCP_REPAIR)
 * is not tracked at all. */
static void remote_port_not_counted(const char *backend)
{
	_cleanup_conn_ struct conn k = CONN_INIT;
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_source_ struct signal_source s = {0};
	char want[128];
	int one = 1;

	ASSERT_OK(conn_open(&k, AF_INET));
	c = config_ports(1, &k.port);
	ASSERT_OK(source_start(&s, c, backend, NULL));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 1);
	ASSERT_OK(transfer(k.client, k.server, 500));
	ASSERT_OK(transfer(k.server, k.client, 500));
	if (backend)
		ASSERT_TRUE(write(k.client, "x", 1) == 1);
	ASSERT_OK(sample_at(&s, SEC(140)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 1);
	snprintf(want, sizeof(want), "port %u from 127.0.0.1:%u", k.port, k.client_port);
	ASSERT_STR_EQ(s.state.detail, want);

	if (setsockopt(k.server, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one)) < 0) {
		TEST_SKIP("lone client end: TCP_REPAIR: %s", strerror(errno));
	}
	close(k.server);
	k.server = -1;
	close(k.listen_fd);
	k.listen_fd = -1;
	/* the client end: local port ephemeral, remote port watched, ESTABLISHED */
	ASSERT_OK(sample_at(&s, SEC(200)));
	ASSERT_OK(sample_at(&s, SEC(300)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 0);
	ASSERT_UINT_EQ(s.state.last_active, SEC(140));
}

TEST(netlink_remote_port_not_counted)
{
	remote_port_not_counted(NULL);
}

TEST(proc_remote_port_not_counted)
{
	remote_port_not_counted("proc");
}

/* Only the watched ports, with the most ports config allows: the kernel
 * accepts the bytecode filter, and a busy connection on an unwatched port
 * is invisible. */
TEST(netlink_port_filter_in_kernel)
{
	_cleanup_conn_ struct conn watched = CONN_INIT, other = CONN_INIT;
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_source_ struct signal_source s = {0};
	uint16_t ports[CONFIG_MAX_PORTS];

	ASSERT_OK(conn_open(&watched, AF_INET));
	ASSERT_OK(conn_open(&other, AF_INET6));
	/* privileged ports (never ephemeral), the watched one in the middle */
	for (size_t i = 0; i < ELEMENTSOF(ports); i++)
		ports[i] = (uint16_t)(1 + i);
	ports[ELEMENTSOF(ports) / 2] = watched.port;
	for (size_t i = 0; i < ELEMENTSOF(ports); i++)
		ASSERT_TRUE(ports[i] != other.port && ports[i] != other.client_port &&
			    ports[i] != watched.client_port);
	c = config_ports(ELEMENTSOF(ports), ports);
	ASSERT_OK(source_start(&s, c, "netlink", NULL));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_TRUE(sockets_kernel_filter(&s));
	ASSERT_UINT_EQ(sockets_tracked(&s), 1);
	ASSERT_OK(transfer(other.client, other.server, 1000));
	ASSERT_OK(sample_at(&s, SEC(140)));
	ASSERT_UINT_EQ(s.state.last_active, 0);
	ASSERT_OK(transfer(watched.server, watched.client, 10));
	ASSERT_OK(sample_at(&s, SEC(150)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(150));

	/* the watched port last in the list: the last block's accept path */
	ports[ELEMENTSOF(ports) / 2] = 1000;
	ports[ELEMENTSOF(ports) - 1] = watched.port;
	c->idle_ports = (struct config_ports){0};
	c->idle_ports.n = ELEMENTSOF(ports);
	memcpy(c->idle_ports.port, ports, sizeof(ports));
	source_done(&s);
	ASSERT_OK(source_start(&s, c, "netlink", NULL));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_TRUE(sockets_kernel_filter(&s));
	ASSERT_UINT_EQ(sockets_tracked(&s), 1);
}

/* Closed sockets leave the table: it holds what the kernel has now. */
TEST(closed_sockets_evicted)
{
	struct conn k[4] = {CONN_INIT, CONN_INIT, CONN_INIT, CONN_INIT};
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_source_ struct signal_source s = {0};
	int r = 0;

	for (size_t i = 0; i < ELEMENTSOF(k) && r == 0; i++)
		r = conn_open(&k[i], AF_INET);
	if (r == 0) {
		uint16_t ports[ELEMENTSOF(k)];

		for (size_t i = 0; i < ELEMENTSOF(k); i++)
			ports[i] = k[i].port;
		c = config_ports(ELEMENTSOF(k), ports);
		r = source_start(&s, c, NULL, NULL);
	}
	if (r == 0)
		r = sample_at(&s, SEC(100));
	ASSERT_OK(r);
	ASSERT_UINT_EQ(sockets_tracked(&s), 4);
	for (size_t i = 1; i < ELEMENTSOF(k); i++)
		conn_close(&k[i]);
	ASSERT_OK(sample_at(&s, SEC(105)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 1);
	conn_close(&k[0]);
	ASSERT_OK(sample_at(&s, SEC(110)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 0);
	ASSERT_UINT_EQ(s.state.last_active, 0);
}

static const char proc_header[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n";

/* One /proc/net/tcp row. */
static void proc_row(FILE *f, int n, const char *local, const char *remote, unsigned st,
		     unsigned txq, unsigned rxq, unsigned long inode)
{
	fprintf(f,
		"%4d: %s %s %02X %08X:%08X 00:00000000 00000000  1000        0 %lu 1 "
		"0000000000000000 20 4 30 10 -1\n",
		n, local, remote, st, txq, rxq, inode);
}

/* Writes DIR/tcp and DIR/tcp6 with a queue value for the rows under test. */
static int write_proc(const char *dir, unsigned q4, unsigned q6, unsigned qmapped)
{
	_cleanup_free_ char *p4 = xasprintf("%s/tcp", dir), *p6 = xasprintf("%s/tcp6", dir);
	_cleanup_fclose_ FILE *f4 = fopen(p4, "we");
	_cleanup_fclose_ FILE *f6 = fopen(p6, "we");

	if (!f4 || !f6)
		return -errno;
	fputs(proc_header, f4);
	/* listening on 22: not established */
	proc_row(f4, 0, "00000000:0016", "00000000:0000", 0x0A, 0, 0, 100);
	/* 203.0.113.5:51234 -> 10.0.0.2:22, established */
	proc_row(f4, 1, "0200000A:0016", "057100CB:C822", 0x01, 0, q4, 101);
	/* outbound from 10.0.0.2:40000 to 198.51.100.7:22: remote port watched only */
	proc_row(f4, 2, "0200000A:9C40", "076433C6:0016", 0x01, q4 + 7, q4, 102);
	/* 22 in TIME_WAIT */
	proc_row(f4, 3, "0200000A:0016", "057100CB:C823", 0x06, 0, q4, 0);
	fputs(proc_header, f6);
	/* [2001:db8::5]:40001 -> port 5900 */
	proc_row(f6, 0, "00000000000000000000000001000000:170C",
		 "B80D0120000000000000000005000000:9C41", 0x01, q6, 0, 201);
	/* ::ffff:192.0.2.9:40002 -> port 6080 on a dual-stack listener */
	proc_row(f6, 1, "0000000000000000FFFF00000100007F:17C0",
		 "0000000000000000FFFF0000090200C0:9C42", 0x01, 0, qmapped, 202);
	return ferror(f4) || ferror(f6) ? -EIO : 0;
}

/* The /proc parser on rows with addresses a loopback test cannot make. */
TEST(proc_rows_parsed)
{
	static const uint16_t ports[] = {22, 5900, 6080};
	char dir[] = "/tmp/test-sockets-XXXXXX";
	_cleanup_(config_freep) struct config *c = config_ports(ELEMENTSOF(ports), ports);
	_cleanup_source_ struct signal_source s = {0};

	ASSERT_NOT_NULL(mkdtemp(dir));
	ASSERT_OK(write_proc(dir, 0, 0, 0));
	ASSERT_OK(source_start(&s, c, "proc", dir));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 3);
	ASSERT_OK(sample_at(&s, SEC(200)));
	ASSERT_UINT_EQ(s.state.last_active, 0);

	ASSERT_OK(write_proc(dir, 40, 0, 0));
	ASSERT_OK(sample_at(&s, SEC(210)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(210));
	ASSERT_STR_EQ(s.state.detail, "port 22 from 203.0.113.5:51234");

	ASSERT_OK(write_proc(dir, 40, 1200, 0));
	ASSERT_OK(sample_at(&s, SEC(220)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(220));
	ASSERT_STR_EQ(s.state.detail, "port 5900 from [2001:db8::5]:40001");

	ASSERT_OK(write_proc(dir, 40, 1200, 9));
	ASSERT_OK(sample_at(&s, SEC(230)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(230));
	ASSERT_STR_EQ(s.state.detail, "port 6080 from 192.0.2.9:40002");

	/* queues that stay non-zero are silence */
	ASSERT_OK(sample_at(&s, SEC(240)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(230));

	ASSERT_OK(sample_at(&s, SEC(250)));
	source_done(&s);
	{
		_cleanup_free_ char *p4 = xasprintf("%s/tcp", dir), *p6 = xasprintf("%s/tcp6", dir);

		unlink(p4);
		unlink(p6);
		rmdir(dir);
	}
}

/* More connections than the table holds: the untracked rest counts. */
TEST(proc_overflow_counts)
{
	static const uint16_t port = 22;
	char dir[] = "/tmp/test-sockets-XXXXXX";
	_cleanup_(config_freep) struct config *c = config_ports(1, &port);
	_cleanup_source_ struct signal_source s = {0};
	_cleanup_free_ char *p4 = NULL;
	FILE *f;

	ASSERT_NOT_NULL(mkdtemp(dir));
	p4 = xasprintf("%s/tcp", dir);
	f = fopen(p4, "we");
	ASSERT_NOT_NULL(f);
	fputs(proc_header, f);
	for (int i = 0; i < 1100; i++) {
		char remote[32];

		snprintf(remote, sizeof(remote), "0100007F:%04X", 30000 + i);
		proc_row(f, i, "0100007F:0016", remote, 0x01, 0, 0, 1000 + (unsigned long)i);
	}
	ASSERT_OK(fclose(f));
	ASSERT_OK(source_start(&s, c, "proc", dir));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 1024);
	ASSERT_UINT_EQ(s.state.last_active, SEC(100));
	ASSERT_STR_CONTAINS(s.state.detail, "over 1024 connections");
	unlink(p4);
	rmdir(dir);
}

/* Writes DIR/tcp with n established rows on port 22 in a scrambled order,
 * one row twice, and row 'busy' with a receive queue of q. */
static int write_many(const char *dir, int n, int busy, unsigned q)
{
	_cleanup_free_ char *p4 = xasprintf("%s/tcp", dir);
	_cleanup_fclose_ FILE *f = fopen(p4, "we");

	if (!f)
		return -errno;
	fputs(proc_header, f);
	for (int i = 0; i <= n; i++) {
		int r = i == n ? 0 : (i * 7919) % n; /* 7919 is prime: a permutation */
		char remote[32];

		snprintf(remote, sizeof(remote), "0100007F:%04X", 20000 + r);
		proc_row(f, i, "0100007F:0016", remote, 0x01, 0, r == busy ? q : 0,
			 5000 + (unsigned long)r);
	}
	return ferror(f) ? -EIO : 0;
}

/* Hundreds of connections in a scrambled order, one repeated: each is
 * matched with itself from tick to tick, and the one that moved is named. */
TEST(proc_many_rows_matched)
{
	static const uint16_t port = 22;
	char dir[] = "/tmp/test-sockets-XXXXXX";
	_cleanup_(config_freep) struct config *c = config_ports(1, &port);
	_cleanup_source_ struct signal_source s = {0};
	_cleanup_free_ char *p4 = NULL;

	ASSERT_NOT_NULL(mkdtemp(dir));
	p4 = xasprintf("%s/tcp", dir);
	ASSERT_OK(write_many(dir, 600, 337, 0));
	ASSERT_OK(source_start(&s, c, "proc", dir));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 600);
	ASSERT_OK(sample_at(&s, SEC(200)));
	ASSERT_UINT_EQ(s.state.last_active, 0);
	ASSERT_OK(write_many(dir, 600, 337, 64));
	ASSERT_OK(sample_at(&s, SEC(210)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(210));
	ASSERT_STR_EQ(s.state.detail, "port 22 from 127.0.0.1:20337");
	ASSERT_OK(sample_at(&s, SEC(220)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(210));
	unlink(p4);
	rmdir(dir);
}

/* Both backends failing degrades the source; it recovers when one works. */
TEST(degraded_when_nothing_readable)
{
	static const uint16_t port = 22;
	char dir[] = "/tmp/test-sockets-XXXXXX";
	_cleanup_(config_freep) struct config *c = config_ports(1, &port);
	_cleanup_source_ struct signal_source s = {0};
	_cleanup_free_ char *p4 = NULL;

	ASSERT_NOT_NULL(mkdtemp(dir));
	p4 = xasprintf("%s/tcp", dir);
	ASSERT_OK(source_start(&s, c, "proc", dir));
	ASSERT_ERR(sample_at(&s, SEC(100)), -ENOENT);
	ASSERT_TRUE(s.state.degraded);
	ASSERT_STR_CONTAINS(s.state.reason, p4);

	ASSERT_OK(write_file_atomic(p4, proc_header, strlen(proc_header), 0644));
	ASSERT_OK(sample_at(&s, SEC(105)));
	ASSERT_FALSE(s.state.degraded);
	unlink(p4);
	rmdir(dir);
}

/* Makes socket(AF_NETLINK, ...) fail with EPERM in this process, as a
 * seccomp policy or RestrictAddressFamilies= would. */
static int refuse_netlink(void)
{
	struct sock_filter filter[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {ELEMENTSOF(filter), filter};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}

#define CHILD_CHECK(e)                                                                             \
	do {                                                                                       \
		if (!(e)) {                                                                        \
			printf("  %s:%d: child: expected %s\n", __FILE__, __LINE__, #e);           \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

/* The child of netlink_refused_falls_back_to_proc: 0 when all held. */
static int netlink_refused_child(void)
{
	struct conn k = CONN_INIT;
	struct config *c;
	struct signal_source s = {0};

	CHILD_CHECK(refuse_netlink() == 0);
	CHILD_CHECK(socket(AF_NETLINK, SOCK_DGRAM, 0) < 0 && errno == EPERM);
	CHILD_CHECK(conn_open(&k, AF_INET) == 0);
	c = config_ports(1, &k.port);
	CHILD_CHECK(source_start(&s, c, NULL, NULL) == 0);
	CHILD_CHECK(sample_at(&s, SEC(100)) == 0);
	CHILD_CHECK(streq(sockets_backend(&s), "proc"));
	CHILD_CHECK(!s.state.degraded);
	CHILD_CHECK(sockets_tracked(&s) == 1);
	CHILD_CHECK(sample_at(&s, SEC(200)) == 0);
	CHILD_CHECK(s.state.last_active == 0);
	CHILD_CHECK(write(k.client, "abc", 3) == 3);
	CHILD_CHECK(sample_at(&s, SEC(210)) == 0);
	CHILD_CHECK(s.state.last_active == SEC(210));
	fflush(stdout);
	return 0;
}

/* sock_diag refused (auto backend): /proc is read instead, not degraded. */
TEST(netlink_refused_falls_back_to_proc)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0)
		_exit(netlink_refused_child());
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_INT_EQ(WEXITSTATUS(status), 0);
}

/* Netlink forced and refused: degraded, no fallback. */
TEST(netlink_forced_and_refused_degrades)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		static const uint16_t port = 22;
		struct config *c = config_ports(1, &port);
		struct signal_source s = {0};

		if (refuse_netlink() < 0)
			_exit(2);
		if (source_start(&s, c, "netlink", NULL) != -EPERM || !s.state.degraded)
			_exit(3);
		if (sample_at(&s, SEC(100)) != -EPERM || !s.state.degraded)
			_exit(4);
		_exit(strstr(s.state.reason, "sock_diag") ? 0 : 5);
	}
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_INT_EQ(WEXITSTATUS(status), 0);
}

/* No ports configured: nothing to watch, nothing read. */
TEST(no_ports)
{
	_cleanup_(config_freep) struct config *c = config_ports(0, NULL);
	_cleanup_source_ struct signal_source s = {0};

	ASSERT_OK(source_start(&s, c, NULL, NULL));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 0);
	ASSERT_UINT_EQ(s.state.last_active, 0);
}

/* A config watching ports with the default timeout (30m: a discovery every
 * 60 s, 12 ticks of 5 s). */
static struct config *config_ports_default(size_t n, const uint16_t *ports)
{
	struct config *c = config_ports(n, ports);

	c->idle_timeout = 30 * USEC_PER_MINUTE;
	return c;
}

/* Between discoveries a known connection is read by exact lookup every
 * tick: its bytes count at each tick once settled, and no dump is made. */
static void lookup_sees_bytes(int family, const char *peer_fmt)
{
	_cleanup_conn_ struct conn k = CONN_INIT;
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_source_ struct signal_source s = {0};
	char want[128];

	ASSERT_OK(conn_open(&k, family));
	c = config_ports_default(1, &k.port);
	ASSERT_OK(source_start(&s, c, "netlink", NULL));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_UINT_EQ(sockets_dumps(&s), 2); /* IPv4 and IPv6 */
	ASSERT_UINT_EQ(sockets_lookups(&s), 0);
	ASSERT_UINT_EQ(sockets_tracked(&s), 1);

	for (usec_t now = SEC(105); now < SEC(160); now += SEC(5)) {
		ASSERT_OK(transfer(k.client, k.server, 200));
		ASSERT_OK(transfer(k.server, k.client, 50));
		ASSERT_OK(sample_at(&s, now));
		ASSERT_UINT_EQ(sockets_tracked(&s), 1);
		/* settled 30 s after its first sighting at 100 */
		ASSERT_UINT_EQ(s.state.last_active, now < SEC(130) ? 0 : now);
	}
	snprintf(want, sizeof(want), peer_fmt, k.port, k.client_port);
	ASSERT_STR_EQ(s.state.detail, want);
	ASSERT_UINT_EQ(sockets_dumps(&s), 2);
	ASSERT_UINT_EQ(sockets_lookups(&s), 11);

	/* silence between discoveries is silence */
	ASSERT_OK(sample_at(&s, SEC(158)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(155));
	ASSERT_UINT_EQ(sockets_dumps(&s), 2);

	/* 60 s after the last: a discovery, which keeps the connection's age */
	ASSERT_OK(transfer(k.client, k.server, 10));
	ASSERT_OK(sample_at(&s, SEC(160)));
	ASSERT_UINT_EQ(sockets_dumps(&s), 4);
	ASSERT_UINT_EQ(s.state.last_active, SEC(160));
	ASSERT_OK(transfer(k.client, k.server, 10));
	ASSERT_OK(sample_at(&s, SEC(165)));
	ASSERT_UINT_EQ(sockets_dumps(&s), 4);
	ASSERT_UINT_EQ(s.state.last_active, SEC(165));
	ASSERT_FALSE(s.state.degraded);
}

TEST(lookup_ipv4_known_connection_bytes_every_tick)
{
	lookup_sees_bytes(AF_INET, "port %u from 127.0.0.1:%u");
}

TEST(lookup_ipv6_known_connection_bytes_every_tick)
{
	lookup_sees_bytes(AF_INET6, "port %u from [::1]:%u");
}

/* A known connection that closes between discoveries is dropped at the
 * next tick (the lookup finds nothing), without a dump; one left in
 * FIN_WAIT/CLOSE_WAIT (half closed) is dropped too. */
TEST(lookup_drops_closed_connection)
{
	struct conn k[3] = {CONN_INIT, CONN_INIT, CONN_INIT};
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_source_ struct signal_source s = {0};
	uint16_t ports[ELEMENTSOF(k)];

	for (size_t i = 0; i < ELEMENTSOF(k); i++) {
		ASSERT_OK(conn_open(&k[i], i == 1 ? AF_INET6 : AF_INET));
		ports[i] = k[i].port;
	}
	c = config_ports_default(ELEMENTSOF(k), ports);
	ASSERT_OK(source_start(&s, c, "netlink", NULL));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 3);

	conn_close(&k[1]);
	ASSERT_OK(sample_at(&s, SEC(105)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 2);
	ASSERT_TRUE(shutdown(k[2].client, SHUT_WR) == 0);
	ASSERT_OK(sample_at(&s, SEC(110)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 1);
	conn_close(&k[0]);
	ASSERT_OK(sample_at(&s, SEC(115)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 0);
	ASSERT_OK(sample_at(&s, SEC(120)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 0);
	ASSERT_UINT_EQ(sockets_dumps(&s), 2);
	ASSERT_UINT_EQ(sockets_lookups(&s), 3 + 2 + 1);
	ASSERT_UINT_EQ(s.state.last_active, 0);
	ASSERT_FALSE(s.state.degraded);
	for (size_t i = 0; i < ELEMENTSOF(k); i++)
		conn_close(&k[i]);
}

static int sample_seq(struct signal_source *s, uint64_t seq, usec_t now)
{
	struct monitor_tick t = {
	    .seq = seq, .now = now, .realtime = SEC(1700000000) + now, .window = SEC(5)};

	return s->ops->sample(s, &t);
}

/* A connection opened between discoveries is not looked for until the next
 * one; its settle time starts there. The first tick (seq 1) always dumps. */
TEST(lookup_new_connection_at_next_discovery)
{
	_cleanup_conn_ struct conn k = CONN_INIT;
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_source_ struct signal_source s = {0};

	ASSERT_OK(conn_listen(&k, AF_INET, 0));
	c = config_ports_default(1, &k.port);
	ASSERT_OK(source_start(&s, c, "netlink", NULL));
	ASSERT_OK(sample_seq(&s, 1, SEC(1)));
	ASSERT_UINT_EQ(sockets_dumps(&s), 2);
	ASSERT_OK(conn_connect(&k, AF_INET));
	for (uint64_t seq = 2; seq <= 12; seq++) {
		ASSERT_OK(transfer(k.client, k.server, 100));
		ASSERT_OK(sample_seq(&s, seq, SEC(1 + 5 * (seq - 1))));
		ASSERT_UINT_EQ(sockets_tracked(&s), 0);
	}
	ASSERT_UINT_EQ(sockets_dumps(&s), 2);
	ASSERT_UINT_EQ(sockets_lookups(&s), 0); /* nothing known, nothing asked */

	/* 61: 60 s after the first discovery */
	ASSERT_OK(sample_seq(&s, 13, SEC(61)));
	ASSERT_UINT_EQ(sockets_dumps(&s), 4);
	ASSERT_UINT_EQ(sockets_tracked(&s), 1);
	ASSERT_UINT_EQ(s.state.last_active, 0);
	/* settle time from the discovery that found it */
	ASSERT_OK(transfer(k.client, k.server, 100));
	ASSERT_OK(sample_seq(&s, 18, SEC(86)));
	ASSERT_UINT_EQ(s.state.last_active, 0);
	ASSERT_OK(transfer(k.client, k.server, 100));
	ASSERT_OK(sample_seq(&s, 19, SEC(91)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(91));
	ASSERT_UINT_EQ(sockets_dumps(&s), 4);
	ASSERT_UINT_EQ(sockets_lookups(&s), 2);
}

/* The /proc fallback has no lookup by id: it reads everything every tick,
 * so a new connection is seen at the next tick whatever the period. */
TEST(proc_reads_every_tick)
{
	_cleanup_conn_ struct conn k = CONN_INIT;
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_source_ struct signal_source s = {0};

	ASSERT_OK(conn_listen(&k, AF_INET, 0));
	c = config_ports_default(1, &k.port);
	ASSERT_OK(source_start(&s, c, "proc", NULL));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 0);
	ASSERT_OK(conn_connect(&k, AF_INET));
	ASSERT_OK(sample_at(&s, SEC(105)));
	ASSERT_UINT_EQ(sockets_tracked(&s), 1);
	ASSERT_UINT_EQ(sockets_dumps(&s), 0);
	ASSERT_UINT_EQ(sockets_lookups(&s), 0);
}

/* More known connections than one batch of lookups (32): every one is
 * answered and matched with itself, and the busy one is named. */
TEST(lookup_many_in_batches)
{
	enum { N = 75 };
	_cleanup_conn_ struct conn k = CONN_INIT;
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_source_ struct signal_source s = {0};
	int client[N], server[N];
	char want[128];
	size_t n = 0;

	ASSERT_OK(conn_listen(&k, AF_INET, 0));
	for (; n < N; n++) {
		struct sockaddr_storage ss;
		socklen_t l = loopback(AF_INET, k.port, &ss);

		client[n] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (client[n] < 0)
			break;
		if (connect(client[n], (struct sockaddr *)&ss, l) < 0) {
			close(client[n]);
			break;
		}
		server[n] = accept4(k.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (server[n] < 0) {
			close(client[n]);
			break;
		}
	}
	ASSERT_UINT_EQ(n, N);
	c = config_ports_default(1, &k.port);
	ASSERT_OK(source_start(&s, c, "netlink", NULL));
	ASSERT_OK(sample_at(&s, SEC(100)));
	ASSERT_UINT_EQ(sockets_tracked(&s), N);
	ASSERT_OK(sample_at(&s, SEC(140)));
	ASSERT_UINT_EQ(sockets_tracked(&s), N);
	ASSERT_UINT_EQ(s.state.last_active, 0);
	ASSERT_OK(transfer(client[66], server[66], 500));
	ASSERT_OK(sample_at(&s, SEC(145)));
	ASSERT_UINT_EQ(s.state.last_active, SEC(145));
	snprintf(want, sizeof(want), "port %u from 127.0.0.1:%u", k.port, local_port(client[66]));
	ASSERT_STR_EQ(s.state.detail, want);
	for (size_t i = 0; i < N; i += 2) {
		close(client[i]);
		close(server[i]);
	}
	ASSERT_OK(sample_at(&s, SEC(150)));
	ASSERT_UINT_EQ(sockets_tracked(&s), N / 2);
	ASSERT_UINT_EQ(sockets_dumps(&s), 2);
	ASSERT_UINT_EQ(sockets_lookups(&s), 3 * N);
	for (size_t i = 1; i < N; i += 2) {
		close(client[i]);
		close(server[i]);
	}
}
