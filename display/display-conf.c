/* Config checks and sockets for agentbox-display; see display-conf.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "display-conf.h"
#include "macro.h"

/* Parses a decimal int in [min, max] ending at *end. */
static int parse_int(const char *s, int min, int max, const char **end, int *ret)
{
	long v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
		if (v > max)
			return -EINVAL;
	}
	if (v < min)
		return -EINVAL;
	*end = p;
	*ret = (int)v;
	return 0;
}

int display_parse_geometry(const char *s, int *ret_w, int *ret_h, int *ret_depth)
{
	int w, h, d = 24;
	const char *p;

	if (parse_int(s, 16, 8192, &p, &w) < 0 || *p++ != 'x')
		return -EINVAL;
	if (parse_int(p, 16, 8192, &p, &h) < 0)
		return -EINVAL;
	if (*p == 'x') {
		if (parse_int(p + 1, 24, 24, &p, &d) < 0)
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*ret_w = w;
	*ret_h = h;
	*ret_depth = d;
	return 0;
}

int display_parse_address(const char *addr, int port, struct sockaddr_storage *ret,
			  socklen_t *ret_len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ret;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;

	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

int display_address_is_loopback(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* The host part of a Host header value, lowercased, without the port and
 * one trailing dot; NULL when malformed. */
static char *host_name(const char *host)
{
	const char *end;
	char *h;
	size_t n;

	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end || (end[1] && end[1] != ':'))
			return NULL;
		n = (size_t)(end - host) + 1;
	} else {
		n = strcspn(host, ":");
	}
	if (n == 0 || n > 253)
		return NULL;
	h = strndup(host, n);
	if (!h)
		return NULL;
	for (char *p = h; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (n > 1 && h[n - 1] == '.')
		h[n - 1] = 0;
	return h;
}

int display_host_allowed(const char *host, const char *listen, char *const *allowed)
{
	_cleanup_free_ char *h = NULL, *l = NULL;
	struct in6_addr a6;

	if (!host || !(h = host_name(host)))
		return 0;
	if (display_address_is_loopback(listen)) {
		size_t n = strlen(h);

		/* names a page's DNS cannot point elsewhere (RFC 6761) */
		if (streq(h, "localhost") || (n > 10 && streq(h + n - 10, ".localhost")))
			return 1;
		if (display_address_is_loopback(h))
			return 1;
		if (h[0] == '[' && n > 2) {
			h[n - 1] = 0;
			if (inet_pton(AF_INET6, h + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6))
				return 1;
			h[n - 1] = ']';
		}
	}
	/* the listen address itself: a browser sends it only when told to */
	l = strchr(listen, ':') ? xasprintf("[%s]", listen) : xstrdup(listen);
	if (strcasecmp(h, l) == 0)
		return 1;
	for (char *const *a = allowed; a && *a; a++) {
		_cleanup_free_ char *name = host_name(*a);

		if (name && streq(h, name))
			return 1;
	}
	return 0;
}

int display_check_config(const struct config *c, char **ret_error)
{
	const char *origin = c->path ? c->path : "config";
	struct sockaddr_storage sa;
	socklen_t len;
	int w, h, d;

	if (display_parse_geometry(c->display_geometry, &w, &h, &d) < 0) {
		*ret_error = xasprintf("%s: display.geometry: expected WIDTHxHEIGHT or "
				       "WIDTHxHEIGHTx24 (16 to 8192), got \"%s\"",
				       origin, c->display_geometry);
		return -EINVAL;
	}
	if (c->display_x_display[0] != ':') {
		*ret_error = xasprintf("%s: display.x_display: expected a local display such "
				       "as \":1\", got \"%s\"",
				       origin, c->display_x_display);
		return -EINVAL;
	}
	if (display_parse_address(c->display_listen, 1, &sa, &len) < 0) {
		*ret_error = xasprintf("%s: display.listen: expected a numeric IPv4 or IPv6 "
				       "address, got \"%s\"",
				       origin, c->display_listen);
		return -EINVAL;
	}
	if (c->display_port == c->display_web_port) {
		*ret_error = xasprintf("%s: display.web_port: must differ from display.port",
				       origin);
		return -EINVAL;
	}
	if (!!c->display_tls_cert_file != !!c->display_tls_key_file) {
		*ret_error = xasprintf("%s: display.tls_cert_file: set both tls_cert_file and "
				       "tls_key_file, or neither",
				       origin);
		return -EINVAL;
	}
	for (char **a = c->display_allowed_hosts; a && *a; a++) {
		_cleanup_free_ char *name = host_name(*a);

		if (!name || strspn(*a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "0123456789.-:[]") != strlen(*a)) {
			*ret_error = xasprintf("%s: display.allowed_hosts: expected host names "
					       "such as \"box.example.com\", got \"%s\"",
					       origin, *a);
			return -EINVAL;
		}
	}
	if (!display_address_is_loopback(c->display_listen) &&
	    (!c->display_web_password_file || !c->display_tls_cert_file)) {
		*ret_error = xasprintf(
			"%s: display.listen: %s is not a loopback address; listening there "
			"needs display.web_password_file and display.tls_cert_file/tls_key_file "
			"(or keep 127.0.0.1 and use an SSH tunnel or a TLS reverse proxy, see "
			"docs/display.md)",
			origin, c->display_listen);
		return -EINVAL;
	}
	return 0;
}

int display_listen(const char *addr, int port)
{
	struct sockaddr_storage sa;
	socklen_t len;
	_cleanup_close_ int fd = -1;
	int one = 1;

	if (display_parse_address(addr, port, &sa, &len) < 0)
		return -EINVAL;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return negative_errno();
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 64) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

void display_format_peer(const struct sockaddr_storage *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(in4->sin_port));
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else
		snprintf(buf, size, "local");
}
