/* The few XML helpers S3's and EC2's answers need: no parser, the text of
 * a tag found by its name. The bytes come from servers, which may be
 * hostile: every search is bounded by the input. */
#ifndef AGENTBOX_XML_H
#define AGENTBOX_XML_H

#include <stddef.h>

/* The text of the first <tag> in [xml, end), decoded (the five entities
 * and ASCII character references); NULL when absent or not closed.
 * *ret_after (optional) points past its closing tag. */
char *xml_get(const char *xml, const char *end, const char *tag, const char **ret_after);
/* The same into buf (cut to size-1 bytes) from a NUL-terminated xml; buf
 * may be xml itself. -ENOENT when absent, -EINVAL when not closed. */
int xml_tag_text(const char *xml, const char *tag, char *buf, size_t size);
/* Escapes &, <, > and " for an XML text node. */
char *xml_escape(const char *s);

#endif
