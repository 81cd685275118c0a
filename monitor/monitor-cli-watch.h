/* agentbox internal-watch-interruption: see monitor-cli-watch.c. */
#ifndef AGENTBOX_MONITOR_CLI_WATCH_H
#define AGENTBOX_MONITOR_CLI_WATCH_H

struct config;

int cli_watch_interruption(struct config *c, int argc, char **argv);

#endif
