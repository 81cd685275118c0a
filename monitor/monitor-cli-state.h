/* "agentbox backup" and "agentbox restore": the state commands of the
 * client, on lib/state. */
#ifndef AGENTBOX_MONITOR_CLI_STATE_H
#define AGENTBOX_MONITOR_CLI_STATE_H

struct config;

/* agentbox backup [--force] [--final]; returns the exit status. --final
 * also gives the lease back (what the monitor does before a self-delete). */
int cli_backup(struct config *c, int argc, char **argv);
/* agentbox restore [--generation ID] [--list] [--take-over]; returns the
 * exit status. */
int cli_restore(struct config *c, int argc, char **argv);

#endif
