/* The env-file parser of "agentbox render-user-data": values, quotes,
 * comments, and the promised error lines. */
#include <errno.h>
#include <string.h>

#include "envfile.h"
#include "macro.h"
#include "tests.h"

static const char *get(const struct envfile *e, const char *key)
{
	const struct envfile_entry *x = envfile_get(e, key);
	return x ? x->value : NULL;
}

/* Parses text that must be refused; returns the error line. */
static char *refused(const char *text)
{
	struct envfile *e = NULL;
	char *error = NULL;

	if (envfile_parse(text, "t.env", &e, &error) != -EINVAL) {
		envfile_free(e);
		free(error);
		return NULL;
	}
	return error;
}

#define ASSERT_REFUSED(text, msg)                                                                  \
	do {                                                                                       \
		_cleanup_free_ char *_err = refused(text);                                         \
		ASSERT_NOT_NULL(_err);                                                             \
		ASSERT_STR_CONTAINS(_err, msg);                                                    \
		ASSERT_TRUE(strchr(_err, '\n') == NULL);                                           \
	} while (0)

TEST(values)
{
	_cleanup_(envfile_freep) struct envfile *e = NULL;
	_cleanup_free_ char *error = NULL;

	ASSERT_OK(envfile_parse("# a comment\n"
				"\n"
				"PROVIDER=hetzner\n"
				"  export  BUCKET=  my-bucket  \n"
				"IDLE_TIMEOUT=30m # half an hour\n"
				"SSH_KEY=ssh-ed25519 AAAAC3 me@laptop\n"
				"Q=\"a \\\" # comment\n"
				"S='it' \n"
				"EMPTY=\n"
				"HASH=a#b\n"
				"CRLF=x\r\n"
				"LAST=no newline",
				"t.env", &e, &error));
	ASSERT_TRUE(error == NULL);
	ASSERT_UINT_EQ(e->n, 10);
	ASSERT_STR_EQ(get(e, "PROVIDER"), "hetzner");
	ASSERT_STR_EQ(get(e, "BUCKET"), "my-bucket");
	ASSERT_STR_EQ(get(e, "IDLE_TIMEOUT"), "30m");
	ASSERT_STR_EQ(get(e, "SSH_KEY"), "ssh-ed25519 AAAAC3 me@laptop");
	/* no escapes inside quotes: the text up to the next quote */
	ASSERT_STR_EQ(get(e, "Q"), "a \\");
	ASSERT_STR_EQ(get(e, "S"), "it");
	ASSERT_STR_EQ(get(e, "EMPTY"), "");
	ASSERT_STR_EQ(get(e, "HASH"), "a#b");
	ASSERT_STR_EQ(get(e, "CRLF"), "x");
	ASSERT_STR_EQ(get(e, "LAST"), "no newline");
	ASSERT_UINT_EQ(envfile_get(e, "BUCKET")->line, 4);
	ASSERT_TRUE(envfile_get(e, "NOPE") == NULL);
}

TEST(quoted_keeps_everything)
{
	_cleanup_(envfile_freep) struct envfile *e = NULL;
	_cleanup_free_ char *error = NULL;

	ASSERT_OK(envfile_parse("A=\"x: y # z 'q'\"\nB='\"{}[]&*!|>'\n", "t.env", &e, &error));
	ASSERT_STR_EQ(get(e, "A"), "x: y # z 'q'");
	ASSERT_STR_EQ(get(e, "B"), "\"{}[]&*!|>");
}

TEST(refuses_with_line)
{
	ASSERT_REFUSED("A=1\nB=2\nA=3\n", "t.env:3: A is set twice (first on line 1)");
	ASSERT_REFUSED("A=1\nnot an assignment\n", "t.env:2: expected '=' after the key 'not'");
	ASSERT_REFUSED("=x\n", "t.env:1: expected KEY=VALUE");
	ASSERT_REFUSED("9A=x\n", "t.env:1: expected KEY=VALUE");
	ASSERT_REFUSED("A =x\n", "t.env:1: expected '='");
	ASSERT_REFUSED("A=\"open\nB=2\"\n", "t.env:1: A: no closing \"");
	ASSERT_REFUSED("A='x' y\n", "t.env:1: A: text after the closing quote");
	ASSERT_REFUSED("A=x\nB=a\x01z\n", "t.env:2: control character 0x01");
	ASSERT_REFUSED("A=a\rb\n", "t.env:1: control character 0x0d");
}

TEST(line_cap)
{
	size_t n = ENVFILE_MAX_LINE + 10;
	_cleanup_free_ char *text = xmalloc(n + 1);

	memset(text, 'a', n);
	text[0] = 'A';
	text[1] = '=';
	text[n] = '\0';
	ASSERT_REFUSED(text, "t.env:1: line longer than");
}
