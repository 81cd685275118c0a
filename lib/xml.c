/* The few XML helpers the S3 and EC2 answers need; see xml.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "xml.h"

/* Decodes the five XML entities and numeric references (ASCII) in place. */
static void xml_unescape(char *s)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {
	    {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	char *o = s;

	while (*s) {
		size_t i;

		if (*s != '&') {
			*o++ = *s++;
			continue;
		}
		for (i = 0; i < ELEMENTSOF(ents); i++)
			if (startswith(s, ents[i].ent)) {
				*o++ = ents[i].c;
				s += strlen(ents[i].ent);
				break;
			}
		if (i < ELEMENTSOF(ents))
			continue;
		if (s[1] == '#') {
			char *end;
			unsigned long v =
			    s[2] == 'x' ? strtoul(s + 3, &end, 16) : strtoul(s + 2, &end, 10);
			if (*end == ';' && v > 0 && v < 128) {
				*o++ = (char)v;
				s = end + 1;
				continue;
			}
		}
		*o++ = *s++;
	}
	*o = '\0';
}

char *xml_get(const char *xml, const char *end, const char *tag, const char **ret_after)
{
	_cleanup_free_ char *open = xasprintf("<%s>", tag), *close = xasprintf("</%s>", tag);
	const char *a, *b;
	char *v;

	a = memmem(xml, (size_t)(end - xml), open, strlen(open));
	if (!a)
		return NULL;
	a += strlen(open);
	b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (!b)
		return NULL;
	v = strndup(a, (size_t)(b - a));
	if (!v)
		return NULL;
	xml_unescape(v);
	if (ret_after)
		*ret_after = b + strlen(close);
	return v;
}

/* Escapes &, <, > and " for an XML text node. */
char *xml_escape(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(n * 6 + 1), *o = out;

	for (; *s; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		}
		if (rep) {
			memcpy(o, rep, strlen(rep));
			o += strlen(rep);
		} else
			*o++ = *s;
	}
	*o = '\0';
	return out;
}

int xml_tag_text(const char *xml, const char *tag, char *buf, size_t size)
{
	_cleanup_free_ char *open = xasprintf("<%s>", tag), *v = NULL;
	const char *end = xml + strlen(xml);
	size_t len;

	if (!strstr(xml, open))
		return -ENOENT;
	v = xml_get(xml, end, tag, NULL);
	if (!v)
		return -EINVAL; /* not closed */
	len = MIN(strlen(v), size - 1);
	memcpy(buf, v, len); /* buf may be xml itself: v is a copy */
	buf[len] = '\0';
	return 0;
}
