/* "agentbox backup" and "agentbox restore": the state commands of the
 * client, on lib/state. */
#ifndef AGENTBOX_MONITOR_CLI_STATE_H
#define AGENTBOX_MONITOR_CLI_STATE_H

#include <stddef.h>
#include <stdint.h>

struct config;

/* "1.2 GiB", "340.0 KiB", "12 B" into buf; returns buf. */
const char *format_bytes(char *buf, size_t size, uint64_t n);

/* agentbox backup [--force] [--final]; returns the exit status. --final
 * also gives the lease back (what the monitor does before a self-delete). */
int cli_backup(struct config *c, int argc, char **argv);
/* agentbox restore [--generation ID] [--list] [--take-over]; returns the
 * exit status. */
int cli_restore(struct config *c, int argc, char **argv);
/* agentbox generations: the generations in the bucket, each with its
 * files, bytes of data kept and bytes stored (= restore --list). */
int cli_generations(struct config *c, int argc, char **argv);

#endif
