/* "agentbox backup" and "agentbox restore": the state commands of the
 * client, on lib/state. */
#ifndef AGENTBOX_MONITOR_CLI_STATE_H
#define AGENTBOX_MONITOR_CLI_STATE_H

struct config;

/* agentbox backup [--force]; returns the exit status. */
int cli_backup(struct config *c, int argc, char **argv);
/* agentbox restore [--generation ID] [--list]; returns the exit status. */
int cli_restore(struct config *c, int argc, char **argv);

#endif
