/* "agentbox attach": the login user's terminal into the workspace
 * container's tmux session, through the Engine API (lib/docker-exec.c; no
 * docker CLI), so it needs access to the Docker socket: the docker group,
 * which is root-equivalent; see docs/security.md and docs/quickstart.md. */
#ifndef AGENTBOX_MONITOR_CLI_ATTACH_H
#define AGENTBOX_MONITOR_CLI_ATTACH_H

struct config;

/* agentbox attach [--session NAME]; returns the exit status: 0 when tmux
 * detached or ended, 1 when the container cannot be reached. */
int cli_attach(struct config *c, int argc, char **argv);

#endif
