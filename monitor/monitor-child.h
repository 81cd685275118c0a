/* What agentbox-monitor's child processes run and get: the agentbox
 * client next to the daemon (or $AGENTBOX_CLIENT, for tests), and an
 * environment with only what the child needs. */
#ifndef AGENTBOX_MONITOR_CHILD_H
#define AGENTBOX_MONITOR_CHILD_H

/* Path of the agentbox client (caller frees). */
char *monitor_client_path(void);

/* PATH, plus CREDENTIALS_DIRECTORY, JOURNAL_STREAM and agentbox's own
 * non-secret settings when set; no secret is in the daemon's environment
 * to pass on, the child reads its secrets from files. Free with
 * monitor_child_env_free(). */
char **monitor_child_env(void);
void monitor_child_env_free(char **env);

#endif
