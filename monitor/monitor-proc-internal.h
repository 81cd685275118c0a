/* Parts of monitor/monitor-proc.c exposed for tests/fuzz. */
#ifndef AGENTBOX_MONITOR_PROC_INTERNAL_H
#define AGENTBOX_MONITOR_PROC_INTERNAL_H

#include <stddef.h>

#include "monitor-proc.h"

/* Parses one /proc/<pid>/stat line (size bytes at buf, and a NUL after
 * them) into *p; 0 or -EINVAL. */
int proc_parse_stat(char *buf, size_t size, struct proc_info *p);

#endif
