/* agentbox internal-notify: see monitor-cli-notify.c. */
#ifndef AGENTBOX_MONITOR_CLI_NOTIFY_H
#define AGENTBOX_MONITOR_CLI_NOTIFY_H

struct config;

int cli_notify(struct config *c, int argc, char **argv);

#endif
