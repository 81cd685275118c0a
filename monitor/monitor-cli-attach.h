/* "agentbox attach": the login user's terminal into the workspace
 * container's tmux session, through the docker CLI (so it needs what
 * "docker exec" needs: the docker group, which is root-equivalent; see
 * docs/security.md and docs/quickstart.md). */
#ifndef AGENTBOX_MONITOR_CLI_ATTACH_H
#define AGENTBOX_MONITOR_CLI_ATTACH_H

struct config;

/* agentbox attach [--session NAME]; execs docker, or returns the exit
 * status when it cannot. */
int cli_attach(struct config *c, int argc, char **argv);

#endif
