/* agentbox identity; the delete lines of agentbox status. */
#ifndef AGENTBOX_MONITOR_CLI_IDENTITY_H
#define AGENTBOX_MONITOR_CLI_IDENTITY_H

struct cJSON;
struct config;

/* agentbox identity [--json]: asks the metadata service who we are.
 * Exit 0, 1 when the identity is unknown (why on stderr), 2 bad usage. */
int cmd_identity(struct config *c, int argc, char **argv);

/* Prints the "identity" and "delete" members of status.json, if any. */
void print_delete_status(const struct cJSON *root);

#endif
