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

#endif
