/* What agentbox-display takes from the config, checked before anything
 * starts: the geometry, the listen address, and the rule that anything
 * but loopback needs a password and TLS. Plus the socket helpers. */
#ifndef AGENTBOX_DISPLAY_CONF_H
#define AGENTBOX_DISPLAY_CONF_H

#include <sys/socket.h>

struct config;

/* "1920x1080x24" -> 1920, 1080, 24. Returns 0 or -EINVAL. */
int display_parse_geometry(const char *s, int *ret_w, int *ret_h, int *ret_depth);

/* A numeric IPv4/IPv6 address (no names) with a port. Returns 0 or -EINVAL. */
int display_parse_address(const char *addr, int port, struct sockaddr_storage *ret,
			  socklen_t *ret_len);

/* Non-zero for 127.0.0.0/8 and ::1. */
int display_address_is_loopback(const char *addr);

/* Is the HTTP Host header value (host, host:port, [v6]:port) one the web
 * port answers to? On a loopback listen address: localhost, *.localhost,
 * 127.0.0.0/8 and [::1]; always: the listen address itself and the names
 * in allowed (display.allowed_hosts, case-insensitive). NULL host: no. */
int display_host_allowed(const char *host, const char *listen, char *const *allowed);

/* Checks the display.* keys together. Returns 0, or -EINVAL with
 * *ret_error one line naming the key (callers exit EXIT_CONFIG). */
int display_check_config(const struct config *c, char **ret_error);

/* A listening TCP socket (CLOEXEC, nonblocking, SO_REUSEADDR). Returns
 * the fd or -errno. */
int display_listen(const char *addr, int port);

/* "1.2.3.4:5678" / "[::1]:5678" of a peer. */
void display_format_peer(const struct sockaddr_storage *sa, char *buf, size_t size);

#endif
