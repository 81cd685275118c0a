/* The display web front's request parsing (display/display-web.c): the
 * input is a request head (up to "\r\n\r\n"); its target goes through
 * http_path() (which must never leave the noVNC directory), its headers
 * through http_header(), has_token() and origin_ok(); the whole input
 * also as a login form (http_form_value()) whose "next" must pass
 * http_local_path() only as a path of this server, and its Cookie header
 * as a session cookie (dauth_session_find()). */
#include <stdio.h>

#include "display-auth.h"
#include "display-web-internal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const headers[] = {"Connection",
					      "Upgrade",
					      "Sec-WebSocket-Key",
					      "Sec-WebSocket-Version",
					      "Sec-WebSocket-Protocol",
					      "Origin",
					      "Host"};
	_cleanup_free_ char *req = fuzz_strndup(data, size), *path = NULL, *origin = NULL,
			    *host = NULL;
	char method[8], target[2048], proto[16];

	fuzz_quiet();
	for (size_t i = 0; i < ELEMENTSOF(headers); i++) {
		_cleanup_free_ char *v = http_header(req, headers[i]);

		if (v) {
			has_token(v, "close");
			has_token(v, "binary");
		}
	}
	origin = http_header(req, "Origin");
	host = http_header(req, "Host");
	origin_ok(origin, host);
	/* its Cookie header as a session cookie: there is none to find */
	{
		static struct dauth *a;
		_cleanup_free_ char *cookie = http_header(req, "Cookie");

		if (!a && dauth_new("fuzz-password-0123456789", &a) < 0)
			abort();
		FUZZ_ASSERT(dauth_session_find(a, cookie, 1) == 0);
	}
	/* the whole input as a login form and as a redirect target */
	{
		_cleanup_free_ char *pw = http_form_value(req, "password"),
				    *next = http_form_value(req, "next");

		if (next && http_local_path(next))
			FUZZ_ASSERT(next[0] == '/' && next[1] != '/' && !strpbrk(next, "\r\n\"<>"));
	}
	if (sscanf(req, "%7s %2047s %15s", method, target, proto) != 3)
		return 0;
	path = http_path(target);
	if (path) {
		FUZZ_ASSERT(path[0] != '/' && path[0] != '.');
		FUZZ_ASSERT(!strstr(path, "/.") && !strstr(path, "//"));
	}
	return 0;
}
