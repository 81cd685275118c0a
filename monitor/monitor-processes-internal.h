/* Parts of monitor/monitor-processes.c exposed for tests/fuzz. */
#ifndef AGENTBOX_MONITOR_PROCESSES_INTERNAL_H
#define AGENTBOX_MONITOR_PROCESSES_INTERNAL_H

#include <stddef.h>

/* Classifies an interpreter by its argv: cmdline is /proc/<pid>/cmdline
 * (size bytes of NUL-separated arguments, and a NUL after them), which any
 * process chooses for itself. Returns the index in names of the agent it
 * runs, or -1. */
int argv_match(const char *cmdline, size_t size, char *const *names);

#endif
