/* The parsers of monitor/monitor-sockets.c, exposed for tests/fuzz: what
 * the kernel answers over sock_diag, and lines of /proc/net/tcp{,6}. Each
 * takes the sockets it finds into the signal's table (its data). */
#ifndef AGENTBOX_MONITOR_SOCKETS_INTERNAL_H
#define AGENTBOX_MONITOR_SOCKETS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct config_ports;
struct nlmsghdr;
struct sockets;

/* Walks one datagram of a dump answer with sequence number seq. Returns 0
 * at its end (NLMSG_DONE), 1 when more datagrams follow, or the -errno the
 * kernel reported (-EIO for a malformed error message). */
int sockets_take_dump(struct sockets *k, const struct config_ports *ports, const void *buf,
		      size_t size, uint32_t seq);

/* Takes one message of the answers to the lookups with sequence numbers
 * first..first+n-1: 1 for an answer, 0 for a message that is none, or -errno. */
int sockets_lookup_answer(struct sockets *k, const struct config_ports *ports,
			  const struct nlmsghdr *h, uint32_t first, size_t n);

/* Takes one line (NUL-terminated) of /proc/net/tcp (family AF_INET) or tcp6. */
void sockets_take_proc_line(struct sockets *k, const struct config_ports *ports, const char *line,
			    int family);

#endif
