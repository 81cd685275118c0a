/* What agentbox-monitor's child processes run and get: the agentbox
 * client next to the daemon (or $AGENTBOX_CLIENT, for tests), and an
 * environment with only what the child needs. */
#ifndef AGENTBOX_MONITOR_CHILD_H
#define AGENTBOX_MONITOR_CHILD_H

#include <sys/types.h>

/* Path of the agentbox client (caller frees). */
char *monitor_client_path(void);

/* PATH, plus CREDENTIALS_DIRECTORY, JOURNAL_STREAM and agentbox's own
 * non-secret settings when set; no secret is in the daemon's environment
 * to pass on, the child reads its secrets from files. Free with
 * monitor_child_env_free(). */
char **monitor_child_env(void);
void monitor_child_env_free(char **env);

/* Starts argv[0] with monitor_child_env(); its stdout is a pipe returned
 * in *ret_stdout; its stdin a pipe returned in *ret_stdin when that is
 * not NULL, /dev/null otherwise. Returns 0, or -errno with nothing left
 * open. */
int monitor_child_spawn(char *const argv[], pid_t *ret_pid, int *ret_stdin, int *ret_stdout);
#endif
