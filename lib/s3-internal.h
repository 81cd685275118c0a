/* Parsers of lib/s3.c exposed for tests/fuzz (not part of the client's
 * interface). They take bytes from the server, which may be hostile. */
#ifndef AGENTBOX_S3_INTERNAL_H
#define AGENTBOX_S3_INTERNAL_H

#include <stddef.h>

#include "s3.h"
#include "xml.h"


/* One ListObjectsV2 page (size bytes at xml, NUL-terminated): cb for each
 * <Contents> with a <Key>; *ret_token the continuation token when the page
 * says it is truncated, else NULL. 0, or what cb returned to stop. */
int s3_list_parse_page(const char *xml, size_t size, s3_list_fn cb, void *userdata,
		       char **ret_token);

#endif
