/* "agentbox render-user-data": a small env file (provider, image, bucket,
 * idle timeout, SSH key, paths of secret files, how agentbox gets onto the
 * VM) filled into the cloud-init/ template of its provider, printed as
 * cloud-config YAML. It runs on the user's machine, so it needs no
 * agentbox config. */
#ifndef AGENTBOX_MONITOR_CLI_RENDER_H
#define AGENTBOX_MONITOR_CLI_RENDER_H

struct config;

/* agentbox render-user-data [-o FILE] ENV_FILE; returns the exit status
 * (2 for a bad env file, naming the key and line). */
int cli_render_user_data(struct config *c, int argc, char **argv);

/* s as a YAML double-quoted scalar of printable ASCII: quotes, backslashes,
 * control and non-ASCII characters escaped, so no value can end the
 * scalar or start another node. s must be valid UTF-8. */
char *render_yaml_quote(const char *s);

#endif
