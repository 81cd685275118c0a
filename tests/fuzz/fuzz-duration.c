/* Durations (lib/time-util.c): parse_duration() of any text; what it
 * accepts formats (format_duration_exact) to text that parses back to the
 * same value, and format_duration() never overflows its buffer. */
#include "fuzz.h"
#include "time-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size);
	char buf[FORMAT_DURATION_MAX], exact[FORMAT_DURATION_MAX];
	usec_t v, back;

	if (parse_duration(text, &v) < 0)
		return 0;
	FUZZ_ASSERT(v % USEC_PER_MSEC == 0);
	format_duration(buf, sizeof(buf), v);
	format_duration_exact(exact, sizeof(exact), v);
	FUZZ_ASSERT(parse_duration(exact, &back) == 0);
	FUZZ_ASSERT(back == v);
	return 0;
}
