/* The sockets signal (monitor-sockets.c): what tests may look at beyond
 * struct signal_state. */
#ifndef AGENTBOX_MONITOR_SOCKETS_H
#define AGENTBOX_MONITOR_SOCKETS_H

#include <stddef.h>

struct signal_source;

/* Number of connections on the watched local ports seen at the last sample. */
size_t sockets_tracked(const struct signal_source *s);

/* The backend the last sample used: "netlink", "proc", or "none". */
const char *sockets_backend(const struct signal_source *s);

/* Non-zero while the port filter runs in the kernel (inet_diag bytecode
 * accepted); 0 when it runs here. */
int sockets_kernel_filter(const struct signal_source *s);

/* sock_diag dump requests sent since init (one per address family and
 * discovery): tests check that no dump happens between discoveries. */
unsigned long sockets_dumps(const struct signal_source *s);

/* Exact lookups of known connections sent since init (between discoveries). */
unsigned long sockets_lookups(const struct signal_source *s);

#endif
