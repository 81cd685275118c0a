/* The request parsers of display/display-web.c, exposed for tests/fuzz.
 * Their input is what any client that reaches the web port sends. */
#ifndef AGENTBOX_DISPLAY_WEB_INTERNAL_H
#define AGENTBOX_DISPLAY_WEB_INTERNAL_H

/* Decodes the path of a request target into a relative file name under
 * the noVNC directory; NULL for anything that could leave it. */
char *http_path(const char *target);

/* The value of header name in the header block, or NULL; copied. */
char *http_header(const char *headers, const char *name);

/* Does the comma-separated list contain token (case-insensitive)? */
int has_token(const char *list, const char *token);

/* A browser's Origin must name the host the page came from. */
int origin_ok(const char *origin, const char *host);

/* The decoded value of name in an application/x-www-form-urlencoded
 * form (or a query string); NULL when absent or malformed (a %00 too). */
char *http_form_value(const char *form, const char *name);

/* Is target a path on this server that is safe to redirect to and to
 * put into a page unescaped ("/vnc.html?x=1"; not "//other.host")? */
int http_local_path(const char *target);

#endif
