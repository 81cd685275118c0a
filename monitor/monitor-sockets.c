/* The sockets signal: established TCP connections (IPv4 and IPv6) whose
 * LOCAL port is one of idle.ports count as activity while bytes move over
 * them.
 *
 * Once per discovery period (monitor_discovery_period(), and at the first
 * tick) one NETLINK_SOCK_DIAG dump per family asks the kernel for the
 * established sockets on those local ports (an inet_diag bytecode filter
 * does the port test in the kernel) with their struct tcp_info. On the
 * ticks between, each KNOWN connection is asked for by its full id (ports,
 * addresses, interface, cookie; no dump), which the kernel answers with one
 * hash lookup: the cost is O(known connections), not a walk of the
 * kernel's established hash. A lookup answered ENOENT or ESTALE is a closed
 * connection, dropped; a new connection is first seen at the next
 * discovery, and its settle time starts there. A socket,
 * keyed by its cookie and inode, is active at a tick when
 * tcpi_bytes_acked or tcpi_bytes_received grew since the previous tick:
 * only new payload acknowledged by the peer or received from it, so TCP
 * keepalive probes and retransmissions towards a sleeping laptop do not
 * count. A socket is not active when first seen, nor before it has lived
 * a settle time (6 ticks, at most 30 s): a connect alone, and the short
 * probes internet scanners make on port 22, keep no box alive.
 *
 * When sock_diag is refused, /proc/net/tcp and tcp6 are read instead, in
 * full every tick (no lookup by id exists there).
 * They have no byte counters; a socket there is active when its send or
 * receive queue changed since the previous tick, so a silent connection
 * (queues constant, usually empty) never counts. When both fail the
 * source is degraded (and so counts as active).
 *
 * Outbound connections of agentbox itself have ephemeral local ports and
 * are never looked at, whatever their remote port. The tables of known
 * sockets are allocated once and rebuilt every tick from what the kernel
 * reports, so closed sockets drop out; beyond SOCKETS_MAX connections the
 * rest are not tracked and their presence counts as activity.
 *
 * AGENTBOX_SOCKETS_BACKEND=netlink|proc forces one backend (no fallback);
 * AGENTBOX_SOCKETS_PROC_NET=DIR reads DIR/tcp and DIR/tcp6 (tests). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>

#include "log.h"
#include "monitor-discovery.h"
#include "monitor-sockets-internal.h"
#include "monitor-sockets.h"
#include "monitor.h"

#define SOCKETS_MAX 1024
#define SOCKETS_SETTLE_TICKS 6
#define SOCKETS_SETTLE_MAX (30 * USEC_PER_SEC)
#define SOCKETS_NL_BUF 32768
#define SOCKETS_BC_MAX (CONFIG_MAX_PORTS * 20)
/* lookups per sendto: their replies (~1 KiB of receive buffer each) must
 * fit the socket's default receive buffer, or the kernel drops them */
#define SOCKETS_BATCH 32
#define SOCKETS_LOOKUP_SIZE NLMSG_SPACE(sizeof(struct inet_diag_req_v2))
/* room for one lookup's answer (inet_diag_msg, tcp_info and a few small
 * attributes: ~400 bytes); SOCKETS_BATCH of them fill nl_buf */
#define SOCKETS_REPLY_MAX (SOCKETS_NL_BUF / SOCKETS_BATCH)
#define TCP_STATE_ESTABLISHED 1

enum sockets_backend {
	BACKEND_NONE,
	BACKEND_NETLINK,
	BACKEND_PROC,
};

enum sockets_mode {
	MODE_AUTO,
	MODE_NETLINK,
	MODE_PROC,
};

/* Compared with memcmp: no implicit padding, built zeroed. */
struct sock_key {
	uint64_t cookie; /* sock_diag cookie; 0 from /proc */
	uint32_t inode;	 /* 0 while in the accept queue */
	uint16_t lport;	 /* host order */
	uint16_t rport;
	uint8_t backend;
	uint8_t family;
	uint8_t laddr[16];
	uint8_t raddr[16];
	uint8_t pad[6];
};

struct sock_entry {
	struct sock_key key;
	usec_t first_seen;
	uint64_t acked;	   /* tcpi_bytes_acked */
	uint64_t received; /* tcpi_bytes_received */
	uint32_t rqueue;   /* received, not yet read */
	uint32_t wqueue;   /* sent, not yet acknowledged */
	uint32_t ifindex;  /* idiag_if: part of the id an exact lookup needs */
	int has_bytes;	   /* acked/received are known */
};

struct sockets {
	enum sockets_mode mode;
	int nl_fd;
	uint32_t nl_seq;
	int nl_bytecode; /* the request carries the port filter */
	uint8_t *nl_req;
	size_t nl_req_len;
	uint8_t *nl_buf;
	uint8_t *lk_req; /* SOCKETS_BATCH exact lookup requests */
	char *proc_tcp;
	char *proc_tcp6;
	struct sock_entry *prev, *cur;
	size_t n_prev, n_cur;
	int overflow;
	enum sockets_backend backend;
	usec_t settle;
	usec_t last_discovery;	 /* tick->now of the last netlink dump */
	int known;		 /* prev holds a netlink dump's (or lookups') result */
	unsigned long n_dumps;	 /* dump requests sent (one per family and discovery) */
	unsigned long n_lookups; /* exact lookups sent */
};

static const char *backend_name(enum sockets_backend b)
{
	return b == BACKEND_NETLINK ? "netlink" : b == BACKEND_PROC ? "proc" : "none";
}

/* Non-zero when port is one of the configured local ports. */
static int port_watched(const struct config_ports *ports, uint16_t port)
{
	for (size_t i = 0; i < ports->n; i++)
		if (ports->port[i] == port)
			return 1;
	return 0;
}

/* Writes the inet_diag bytecode for "local port is one of ports" into bc
 * (SOCKETS_BC_MAX bytes) and returns its length. Per port one block:
 * S_GE p, S_LE p, then JMP to the end (the kernel accepts a socket whose
 * program ends exactly at its end). A failed comparison jumps to the next
 * block; in the last block, 4 bytes past the end, which rejects. The JMP's
 * yes-step of 4 keeps every block start on the chain the kernel's audit
 * walks (the shape ss(8) builds for "or"). */
static size_t sockets_bytecode(const struct config_ports *ports, uint8_t *bc)
{
	size_t len = ports->n * 20 - 4, off = 0;

	for (size_t i = 0; i < ports->n; i++) {
		struct inet_diag_bc_op *op = (struct inet_diag_bc_op *)(bc + off);
		int last = i + 1 == ports->n;
		size_t rest = len - off;

		op[0] = (struct inet_diag_bc_op){INET_DIAG_BC_S_GE, 8, last ? rest + 4 : 20};
		op[1] = (struct inet_diag_bc_op){0, 0, ports->port[i]};
		op[2] = (struct inet_diag_bc_op){INET_DIAG_BC_S_LE, 8, last ? rest - 8 + 4 : 12};
		op[3] = (struct inet_diag_bc_op){0, 0, ports->port[i]};
		if (!last)
			op[4] = (struct inet_diag_bc_op){INET_DIAG_BC_JMP, 4, rest - 16};
		off += last ? 16 : 20;
	}
	return len;
}

/* Builds the dump request (family filled in per dump), with the port
 * filter when with_bytecode. */
static void sockets_build_request(struct sockets *k, const struct config_ports *ports,
				  int with_bytecode)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)k->nl_req;
	struct inet_diag_req_v2 *req = NLMSG_DATA(nlh);
	size_t len = NLMSG_LENGTH(sizeof(*req));

	memset(k->nl_req, 0, NLMSG_SPACE(sizeof(*req)) + RTA_SPACE(SOCKETS_BC_MAX));
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	req->idiag_states = 1 << TCP_STATE_ESTABLISHED;
	if (with_bytecode && ports->n > 0) {
		struct rtattr *a = (struct rtattr *)(k->nl_req + NLMSG_ALIGN(len));
		size_t bc_len = sockets_bytecode(ports, RTA_DATA(a));

		a->rta_type = INET_DIAG_REQ_BYTECODE;
		a->rta_len = RTA_LENGTH(bc_len);
		len = NLMSG_ALIGN(len) + RTA_SPACE(bc_len);
	}
	nlh->nlmsg_len = len;
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	k->nl_req_len = len;
	k->nl_bytecode = with_bytecode && ports->n > 0;
}

/* Opens the sock_diag socket. Returns 0 or -errno. */
static int sockets_netlink_open(struct sockets *k)
{
	struct timeval tv = {.tv_sec = 1};
	_cleanup_close_ int fd = -1;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	/* a dump is answered at once; never let the daemon's tick hang on it */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	k->nl_fd = TAKE_FD(fd);
	return 0;
}

static void sockets_netlink_close(struct sockets *k)
{
	if (k->nl_fd >= 0)
		close(k->nl_fd);
	k->nl_fd = -1;
}

/* A zeroed slot for the next socket of this tick, or NULL when the table
 * is full (noted in k->overflow). */
static struct sock_entry *sockets_slot(struct sockets *k)
{
	struct sock_entry *e;

	if (k->n_cur == SOCKETS_MAX) {
		k->overflow = 1;
		return NULL;
	}
	e = &k->cur[k->n_cur++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* Takes one inet_diag_msg into the table when it is an established socket
 * on a watched local port. */
static void sockets_take_diag(struct sockets *k, const struct config_ports *ports,
			      const struct nlmsghdr *h)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	const struct rtattr *a;
	struct sock_entry *e;
	size_t alen;
	int len;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return;
	if (m->idiag_state != TCP_STATE_ESTABLISHED ||
	    !port_watched(ports, ntohs(m->id.idiag_sport)))
		return;
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return;
	e = sockets_slot(k);
	if (!e)
		return;
	alen = m->idiag_family == AF_INET ? 4 : 16;
	e->key.cookie = (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
	e->key.inode = m->idiag_inode;
	e->key.lport = ntohs(m->id.idiag_sport);
	e->key.rport = ntohs(m->id.idiag_dport);
	e->key.backend = BACKEND_NETLINK;
	e->key.family = m->idiag_family;
	memcpy(e->key.laddr, m->id.idiag_src, alen);
	memcpy(e->key.raddr, m->id.idiag_dst, alen);
	e->rqueue = m->idiag_rqueue;
	e->wqueue = m->idiag_wqueue;
	e->ifindex = m->id.idiag_if;

	len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	a = (const struct rtattr *)((const char *)m + NLMSG_ALIGN(sizeof(*m)));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		struct tcp_info ti = {0};
		size_t plen = RTA_PAYLOAD(a);

		if (a->rta_type != INET_DIAG_INFO)
			continue;
		/* kernels before 4.1 send a tcp_info without byte counters */
		if (plen < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(uint64_t))
			continue;
		memcpy(&ti, RTA_DATA(a), MIN(plen, sizeof(ti)));
		e->acked = ti.tcpi_bytes_acked;
		e->received = ti.tcpi_bytes_received;
		e->has_bytes = 1;
	}
}

/* Dumps the established TCP sockets of one family into k->cur. Returns 0
 * or -errno (-ENOENT: the kernel has no such family, e.g. no IPv6). */
static int sockets_dump_family(struct sockets *k, const struct config_ports *ports, int family)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct nlmsghdr *req = (struct nlmsghdr *)k->nl_req;
	uint32_t seq = ++k->nl_seq;

	req->nlmsg_seq = seq;
	((struct inet_diag_req_v2 *)NLMSG_DATA(req))->sdiag_family = family;
	if (sendto(k->nl_fd, k->nl_req, k->nl_req_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -errno;
	k->n_dumps++;

	for (;;) {
		struct iovec iov = {.iov_base = k->nl_buf, .iov_len = SOCKETS_NL_BUF};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n;
		int r;

		n = recvmsg(k->nl_fd, &msg, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -EIO;
		if (msg.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		r = sockets_take_dump(k, ports, k->nl_buf, (size_t)n, seq);
		if (r <= 0)
			return r;
	}
}

int sockets_take_dump(struct sockets *k, const struct config_ports *ports, const void *buf,
		      size_t size, uint32_t seq)
{
	const struct nlmsghdr *h;
	int len = (int)size;

	for (h = buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
		if (h->nlmsg_seq != seq)
			continue; /* left over from an earlier dump */
		if (h->nlmsg_type == NLMSG_DONE)
			return 0;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *err = NLMSG_DATA(h);

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*err)) || err->error >= 0)
				return -EIO;
			return err->error;
		}
		if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
			sockets_take_diag(k, ports, h);
	}
	return 1;
}

/* Reads every watched established socket with sock_diag into k->cur.
 * Returns 0 or -errno; on error the netlink socket is reset so that a
 * half-read dump cannot block the next one. */
static int sockets_read_netlink(struct sockets *k, const struct config_ports *ports)
{
	static const int families[] = {AF_INET, AF_INET6};
	int r;

	if (k->nl_fd < 0) {
		r = sockets_netlink_open(k);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ELEMENTSOF(families); i++) {
		r = sockets_dump_family(k, ports, families[i]);
		if (r == -EINVAL && k->nl_bytecode) {
			/* a kernel refusing the filter: filter here instead */
			sockets_build_request(k, ports, 0);
			r = sockets_dump_family(k, ports, families[i]);
		}
		if (r == -ENOENT && families[i] == AF_INET6)
			r = 0; /* no IPv6 in this kernel */
		if (r < 0) {
			sockets_netlink_close(k);
			return r;
		}
	}
	return 0;
}

/* Writes the exact lookup request for one known connection at buf
 * (SOCKETS_LOOKUP_SIZE bytes): its full inet_diag_sockid and no
 * NLM_F_DUMP, so the kernel looks it up in its hash (inet_diag_find_one_icsk)
 * instead of walking it. */
static void sockets_build_lookup(uint8_t *buf, const struct sock_entry *e, uint32_t seq)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct inet_diag_req_v2 *req = NLMSG_DATA(nlh);

	memset(buf, 0, SOCKETS_LOOKUP_SIZE);
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*req));
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	req->sdiag_family = e->key.family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	req->idiag_states = 1 << TCP_STATE_ESTABLISHED;
	req->id.idiag_sport = htons(e->key.lport);
	req->id.idiag_dport = htons(e->key.rport);
	memcpy(req->id.idiag_src, e->key.laddr, sizeof(req->id.idiag_src));
	memcpy(req->id.idiag_dst, e->key.raddr, sizeof(req->id.idiag_dst));
	req->id.idiag_if = e->ifindex;
	req->id.idiag_cookie[0] = (uint32_t)e->key.cookie;
	req->id.idiag_cookie[1] = (uint32_t)(e->key.cookie >> 32);
}

/* Takes one message of the answers to the lookups with sequence numbers
 * first..first+n-1. Returns 1 for an answer (a connection, or none
 * left: ENOENT, or ESTALE: the same ports and addresses now belong to
 * another socket), 0 for a message that is no answer, or -errno. */
int sockets_lookup_answer(struct sockets *k, const struct config_ports *ports,
			  const struct nlmsghdr *h, uint32_t first, size_t n)
{
	if ((uint32_t)(h->nlmsg_seq - first) >= n)
		return 0; /* left over from an earlier request */
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *err = NLMSG_DATA(h);

		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*err)) || err->error >= 0)
			return -EIO;
		if (err->error == -ENOENT || err->error == -ESTALE)
			return 1; /* closed */
		return err->error;
	}
	if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
		sockets_take_diag(k, ports, h);
	return 1;
}

/* Looks up n (at most SOCKETS_BATCH) known connections with one sendto and
 * reads their n answers into k->cur. A connection the kernel no longer has
 * is left out, and one that left ESTABLISHED is left out by
 * sockets_take_diag(). Returns 0 or -errno. */
static int sockets_lookup_batch(struct sockets *k, const struct config_ports *ports,
				const struct sock_entry *e, size_t n)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	uint32_t first = k->nl_seq + 1;
	size_t answered = 0;

	for (size_t i = 0; i < n; i++)
		sockets_build_lookup(k->lk_req + i * SOCKETS_LOOKUP_SIZE, &e[i], ++k->nl_seq);
	if (sendto(k->nl_fd, k->lk_req, n * SOCKETS_LOOKUP_SIZE, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -errno;
	k->n_lookups += n;

	/* the kernel answers within sendto(): one recvmmsg() takes them all,
	 * each reply a datagram of its own in a SOCKETS_REPLY_MAX slice */
	while (answered < n) {
		struct iovec iov[SOCKETS_BATCH];
		struct mmsghdr msgs[SOCKETS_BATCH];
		int got;

		for (size_t i = 0; i < n - answered; i++) {
			iov[i] = (struct iovec){.iov_base = k->nl_buf + i * SOCKETS_REPLY_MAX,
						.iov_len = SOCKETS_REPLY_MAX};
			msgs[i] =
			    (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
		}
		got = recvmmsg(k->nl_fd, msgs, n - answered, MSG_WAITFORONE, NULL);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		for (int i = 0; i < got; i++) {
			const struct nlmsghdr *h = iov[i].iov_base;
			int len = (int)msgs[i].msg_len;

			if (len == 0)
				return -EIO;
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				return -EMSGSIZE;
			for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
				int r = sockets_lookup_answer(k, ports, h, first, n);

				if (r < 0)
					return r;
				answered += r;
			}
		}
	}
	return 0;
}

/* Between discoveries: reads the connections of the last sample (k->prev)
 * again, each by an exact lookup, into k->cur; new connections are not
 * looked for. Returns 0 or -errno (the netlink socket is then reset). */
static int sockets_lookup_known(struct sockets *k, const struct config_ports *ports)
{
	int r;

	if (k->nl_fd < 0) {
		r = sockets_netlink_open(k);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < k->n_prev; i += SOCKETS_BATCH) {
		r = sockets_lookup_batch(k, ports, k->prev + i, MIN(SOCKETS_BATCH, k->n_prev - i));
		if (r < 0) {
			sockets_netlink_close(k);
			return r;
		}
	}
	return 0;
}

/* Parses n hex words of /proc/net/tcp's address format (each the raw
 * 32-bit word in host order) into out. Returns 0 or -EINVAL. */
static int parse_proc_addr(const char *s, size_t n, uint8_t *out)
{
	if (strlen(s) != n * 8)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char word[9];
		uint32_t v;

		memcpy(word, s + i * 8, 8);
		word[8] = '\0';
		v = (uint32_t)strtoul(word, NULL, 16);
		memcpy(out + i * 4, &v, 4);
	}
	return 0;
}

/* Takes one line of /proc/net/tcp{,6}:
 *   sl: LOCAL:PORT REMOTE:PORT ST TXQ:RXQ TR:WHEN RETR UID TIMEOUT INODE ...
 * (addresses and numbers in hex, inode decimal). */
void sockets_take_proc_line(struct sockets *k, const struct config_ports *ports, const char *line,
			    int family)
{
	char la[40], ra[40];
	unsigned lport, rport, st, txq, rxq;
	unsigned long inode;
	size_t words = family == AF_INET ? 1 : 4;
	struct sock_entry *e;
	struct sock_entry tmp;

	memset(&tmp, 0, sizeof(tmp));
	if (sscanf(line,
		   " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %x:%x %*x:%*x %*x %*u %*u %lu", la,
		   &lport, ra, &rport, &st, &txq, &rxq, &inode) != 8)
		return;
	if (st != TCP_STATE_ESTABLISHED || lport > UINT16_MAX || rport > UINT16_MAX ||
	    !port_watched(ports, (uint16_t)lport))
		return;
	if (parse_proc_addr(la, words, tmp.key.laddr) < 0 ||
	    parse_proc_addr(ra, words, tmp.key.raddr) < 0)
		return;
	e = sockets_slot(k);
	if (!e)
		return;
	tmp.key.inode = (uint32_t)inode;
	tmp.key.lport = (uint16_t)lport;
	tmp.key.rport = (uint16_t)rport;
	tmp.key.backend = BACKEND_PROC;
	tmp.key.family = family;
	tmp.rqueue = rxq;
	tmp.wqueue = txq;
	*e = tmp;
}

/* Reads one /proc/net/tcp file through k->nl_buf (free while /proc is
 * read): no allocation per tick. Returns 0 or -errno (a missing tcp6 is
 * no error: no IPv6). */
static int sockets_read_proc_file(struct sockets *k, const struct config_ports *ports,
				  const char *path, int family)
{
	char *buf = (char *)k->nl_buf;
	_cleanup_close_ int fd = -1;
	size_t have = 0;
	int header = 1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT && family == AF_INET6 ? 0 : -errno;
	for (;;) {
		char *line = buf, *eol;
		ssize_t n;

		n = read(fd, buf + have, SOCKETS_NL_BUF - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		have += (size_t)n;
		buf[have] = '\0';
		while ((eol = memchr(line, '\n', have - (size_t)(line - buf)))) {
			*eol = '\0';
			if (!header)
				sockets_take_proc_line(k, ports, line, family);
			header = 0; /* the first line names the columns */
			line = eol + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (n == 0) {
			buf[have] = '\0';
			if (have > 0 && !header)
				sockets_take_proc_line(k, ports, buf, family);
			return 0;
		}
		if (have == SOCKETS_NL_BUF - 1)
			return -EBADMSG; /* a line longer than the buffer */
	}
}

/* Reads every watched established socket from /proc into k->cur. */
static int sockets_read_proc(struct sockets *k, const struct config_ports *ports)
{
	int r;

	r = sockets_read_proc_file(k, ports, k->proc_tcp, AF_INET);
	if (r < 0)
		return r;
	return sockets_read_proc_file(k, ports, k->proc_tcp6, AF_INET6);
}

_Static_assert(sizeof(struct sock_key) == 56, "struct sock_key has implicit padding");

static int sock_entry_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct sock_entry *)a)->key, &((const struct sock_entry *)b)->key,
		      sizeof(struct sock_key));
}

static void sock_entry_swap(struct sock_entry *a, struct sock_entry *b)
{
	struct sock_entry t = *a;

	*a = *b;
	*b = t;
}

/* Restores the heap property below root in a[0..n). */
static void sock_sift_down(struct sock_entry *a, size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;

		if (child >= n)
			return;
		if (child + 1 < n && sock_entry_cmp(&a[child], &a[child + 1]) < 0)
			child++;
		if (sock_entry_cmp(&a[root], &a[child]) >= 0)
			return;
		sock_entry_swap(&a[root], &a[child]);
		root = child;
	}
}

/* Sorts the table by key in place (heapsort): glibc's qsort may allocate,
 * and a tick allocates nothing. */
static void sockets_sort(struct sock_entry *a, size_t n)
{
	if (n < 2)
		return;
	for (size_t i = n / 2; i-- > 0;)
		sock_sift_down(a, i, n);
	for (size_t end = n - 1; end > 0; end--) {
		sock_entry_swap(&a[0], &a[end]);
		sock_sift_down(a, 0, end);
	}
}

/* Bytes that moved over a socket between two sightings: payload acked and
 * received when the kernel gives byte counters, else how much the queues
 * changed. 0: silent. */
static uint64_t sock_moved(const struct sock_entry *was, const struct sock_entry *is)
{
	uint64_t moved = 0;

	if (was->has_bytes && is->has_bytes) {
		if (is->acked > was->acked)
			moved += is->acked - was->acked;
		if (is->received > was->received)
			moved += is->received - was->received;
		return moved;
	}
	moved += is->rqueue > was->rqueue ? is->rqueue - was->rqueue : was->rqueue - is->rqueue;
	moved += is->wqueue > was->wqueue ? is->wqueue - was->wqueue : was->wqueue - is->wqueue;
	return moved;
}

/* "203.0.113.5:51234", "[2001:db8::5]:51234"; IPv4-mapped IPv6 as IPv4. */
static void format_peer(const struct sock_key *key, char *buf, size_t size)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char a[INET6_ADDRSTRLEN] = "?";

	if (key->family == AF_INET6 && memcmp(key->raddr, v4mapped, sizeof(v4mapped)) == 0) {
		inet_ntop(AF_INET, key->raddr + 12, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, key->rport);
	} else if (key->family == AF_INET6) {
		inet_ntop(AF_INET6, key->raddr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, key->rport);
	} else {
		inet_ntop(AF_INET, key->raddr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, key->rport);
	}
}

/* Matches this tick's sockets with the previous tick's, records activity
 * for the socket that moved the most bytes, and makes this tick's table
 * the next tick's previous one (closed sockets drop out here). */
static void sockets_compare(struct signal_source *s, const struct monitor_tick *t)
{
	struct sockets *k = s->data;
	const struct sock_entry *best = NULL;
	uint64_t best_moved = 0;
	struct sock_entry *swap;
	size_t n = 0;

	sockets_sort(k->cur, k->n_cur);
	for (size_t i = 0; i < k->n_cur; i++) {
		struct sock_entry *e = &k->cur[i];
		const struct sock_entry *was;
		uint64_t moved;

		/* a dump interrupted by changes may repeat a socket */
		if (n > 0 && sock_entry_cmp(&k->cur[n - 1], e) == 0)
			continue;
		if (n != i)
			k->cur[n] = *e;
		e = &k->cur[n++];
		was = bsearch(e, k->prev, k->n_prev, sizeof(*k->prev), sock_entry_cmp);
		e->first_seen = was ? was->first_seen : t->now;
		if (!was || t->now < e->first_seen || t->now - e->first_seen < k->settle)
			continue;
		moved = sock_moved(was, e);
		if (moved > best_moved) {
			best = e;
			best_moved = moved;
		}
	}
	k->n_cur = n;

	if (best) {
		char peer[INET6_ADDRSTRLEN + 16];

		format_peer(&best->key, peer, sizeof(peer));
		signal_active(s, t->now, "port %u from %s", best->key.lport, peer);
	} else if (k->overflow)
		signal_active(s, t->now, "over %d connections on the watched ports", SOCKETS_MAX);

	swap = k->prev;
	k->prev = k->cur;
	k->n_prev = k->n_cur;
	k->cur = swap;
	k->n_cur = 0;
}

/* Logs when the backend in use changes (the first sample included). */
static void sockets_note_backend(struct sockets *k, enum sockets_backend b, int nl_err)
{
	if (b == k->backend)
		return;
	if (b == BACKEND_NETLINK)
		log_info("Sockets signal: reading TCP connections with sock_diag");
	else if (nl_err < 0)
		log_warning_errno(nl_err,
				  "Sockets signal: sock_diag failed (%m), reading %s: without byte "
				  "counters only queue changes count",
				  k->proc_tcp);
	else
		log_info(
		    "Sockets signal: reading %s: without byte counters only queue changes count",
		    k->proc_tcp);
	k->backend = b;
}

static int sockets_sample(struct signal_source *s, const struct monitor_tick *t)
{
	struct sockets *k = s->data;
	const struct config_ports *ports = &s->config->idle_ports;
	int r = -EOPNOTSUPP, nl_err = 0;

	if (!k)
		return signal_degrade(s, -EINVAL, "not initialised");
	if (ports->n == 0) {
		k->n_prev = 0;
		k->known = 0;
		signal_recover(s);
		return 0;
	}

	k->n_cur = 0;
	if (k->known && k->mode != MODE_PROC &&
	    !monitor_discovery_due(s->config, k->last_discovery, t)) {
		/* k->overflow stays what the last discovery found */
		r = sockets_lookup_known(k, ports);
		if (r >= 0) {
			sockets_compare(s, t);
			signal_recover(s);
			return 0;
		}
		log_full_errno(LOG_DEBUG, r,
			       "Sockets signal: lookup of known connections failed (%m), "
			       "dumping instead");
		k->n_cur = 0;
	}

	k->known = 0;
	k->overflow = 0;
	if (k->mode != MODE_PROC) {
		r = sockets_read_netlink(k, ports);
		if (r < 0 && k->mode == MODE_NETLINK)
			return signal_degrade(s, r, "sock_diag: %s", strerror(-r));
		if (r < 0)
			nl_err = r;
		else {
			sockets_note_backend(k, BACKEND_NETLINK, 0);
			k->known = 1;
			k->last_discovery = t->now;
		}
	}
	if (r < 0) {
		k->n_cur = 0;
		k->overflow = 0;
		r = sockets_read_proc(k, ports);
		if (r < 0 && nl_err < 0)
			return signal_degrade(s, r, "sock_diag: %s; %s: %s", strerror(-nl_err),
					      k->proc_tcp, strerror(-r));
		if (r < 0)
			return signal_degrade(s, r, "%s: %s", k->proc_tcp, strerror(-r));
		sockets_note_backend(k, BACKEND_PROC, nl_err);
	}

	sockets_compare(s, t);
	signal_recover(s);
	return 0;
}

static void sockets_done(struct signal_source *s)
{
	struct sockets *k = s->data;

	if (!k)
		return;
	sockets_netlink_close(k);
	free(k->nl_req);
	free(k->nl_buf);
	free(k->lk_req);
	free(k->proc_tcp);
	free(k->proc_tcp6);
	free(k->prev);
	free(k->cur);
	free(k);
	s->data = NULL;
}

static int sockets_init(struct signal_source *s)
{
	const struct config *c = s->config;
	const char *mode = getenv("AGENTBOX_SOCKETS_BACKEND");
	const char *proc_net = getenv("AGENTBOX_SOCKETS_PROC_NET");
	struct sockets *k;

	k = xcalloc(1, sizeof(*k));
	k->nl_fd = -1;
	if (!mode || !*mode || streq(mode, "auto"))
		k->mode = MODE_AUTO;
	else if (streq(mode, "netlink"))
		k->mode = MODE_NETLINK;
	else if (streq(mode, "proc"))
		k->mode = MODE_PROC;
	else {
		log_warning("AGENTBOX_SOCKETS_BACKEND=%s is not netlink, proc or auto, ignoring",
			    mode);
		k->mode = MODE_AUTO;
	}
	if (!proc_net || !*proc_net)
		proc_net = "/proc/net";
	k->proc_tcp = xasprintf("%s/tcp", proc_net);
	k->proc_tcp6 = xasprintf("%s/tcp6", proc_net);
	k->nl_req =
	    xcalloc(1, NLMSG_SPACE(sizeof(struct inet_diag_req_v2)) + RTA_SPACE(SOCKETS_BC_MAX));
	k->nl_buf = xmalloc(SOCKETS_NL_BUF);
	k->lk_req = xcalloc(SOCKETS_BATCH, SOCKETS_LOOKUP_SIZE);
	k->prev = xcalloc(SOCKETS_MAX, sizeof(*k->prev));
	k->cur = xcalloc(SOCKETS_MAX, sizeof(*k->cur));
	k->settle = MIN(SOCKETS_SETTLE_MAX, SOCKETS_SETTLE_TICKS * c->idle_interval);
	sockets_build_request(k, &c->idle_ports, 1);
	s->data = k;

	/* a refusal in auto mode is logged by the first sample, which falls back */
	if (k->mode != MODE_PROC) {
		int r = sockets_netlink_open(k);

		if (r < 0 && k->mode == MODE_NETLINK)
			return signal_degrade(s, r, "sock_diag: %s", strerror(-r));
	}
	return 0;
}

size_t sockets_tracked(const struct signal_source *s)
{
	const struct sockets *k = s->data;

	return k ? k->n_prev : 0;
}

const char *sockets_backend(const struct signal_source *s)
{
	const struct sockets *k = s->data;

	return backend_name(k ? k->backend : BACKEND_NONE);
}

int sockets_kernel_filter(const struct signal_source *s)
{
	const struct sockets *k = s->data;

	return k && k->nl_fd >= 0 && k->nl_bytecode;
}

unsigned long sockets_dumps(const struct signal_source *s)
{
	const struct sockets *k = s->data;

	return k ? k->n_dumps : 0;
}

unsigned long sockets_lookups(const struct signal_source *s)
{
	const struct sockets *k = s->data;

	return k ? k->n_lookups : 0;
}

static const struct signal_ops sockets_ops = {
    .name = "sockets",
    .order = 30,
    .init = sockets_init,
    .sample = sockets_sample,
    .done = sockets_done,
};

SIGNAL_SOURCE_REGISTER(sockets_ops);
