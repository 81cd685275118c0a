/* render_yaml_quote: every value of the user-data becomes a YAML
 * double-quoted scalar of printable ASCII (the regress test parses the
 * result with a real YAML parser). */
#include <string.h>

#include "macro.h"
#include "monitor-cli-render.h"
#include "tests.h"

#define ASSERT_QUOTED(in, out)                                                                     \
	do {                                                                                       \
		_cleanup_free_ char *_q = render_yaml_quote(in);                                   \
		ASSERT_STR_EQ(_q, out);                                                            \
	} while (0)

TEST(yaml_quote_plain)
{
	ASSERT_QUOTED("", "\"\"");
	ASSERT_QUOTED("agent", "\"agent\"");
	ASSERT_QUOTED("a: b # c - [d] {e} &f *g !h |i >j 'k' %l @m `n`",
		      "\"a: b # c - [d] {e} &f *g !h |i >j 'k' %l @m `n`\"");
}

TEST(yaml_quote_escapes)
{
	ASSERT_QUOTED("say \"hi\"", "\"say \\\"hi\\\"\"");
	ASSERT_QUOTED("back\\slash", "\"back\\\\slash\"");
	ASSERT_QUOTED("tab\there", "\"tab\\x09here\"");
	ASSERT_QUOTED("line\nbreak\r", "\"line\\x0abreak\\x0d\"");
	ASSERT_QUOTED("del\x7f", "\"del\\x7f\"");
}

TEST(yaml_quote_non_ascii)
{
	ASSERT_QUOTED("caf\xc3\xa9", "\"caf\\xe9\"");
	ASSERT_QUOTED("\xc2\x85", "\"\\x85\"");		      /* NEL: a line break to YAML */
	ASSERT_QUOTED("\xe2\x80\xa8", "\"\\u2028\"");	      /* LINE SEPARATOR */
	ASSERT_QUOTED("\xf0\x9f\x98\x80", "\"\\U0001f600\""); /* outside the BMP */
}
