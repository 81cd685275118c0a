/* .agentboxignore patterns (lib/state-exclude.c): the input's first line
 * is a pattern, the rest a path; the pattern is matched against that path
 * and some fixed ones, as a file and as a directory. Nothing may crash,
 * and no pattern may take long (the matcher does not backtrack on "**"
 * and refuses patterns of many '*'). */
#include "fuzz.h"
#include "state-exclude.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fixed[] = {
	    "a", "a/b", "node_modules/x/y", ".git/HEAD", "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p",
	    "",	 "/"};
	_cleanup_free_ char *text = fuzz_strndup(data, size);
	char *path = strchr(text, '\n');

	if (path)
		*path++ = '\0';
	for (int dir = 0; dir <= 1; dir++) {
		if (path)
			(void)state_exclude_pattern_match(text, path, dir);
		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
			(void)state_exclude_pattern_match(text, fixed[i], dir);
	}
	return 0;
}
