/* Interpreter command lines (monitor/monitor-processes.c): any bytes as
 * /proc/<pid>/cmdline (argv_match), which every process sets for itself. */
#include "fuzz.h"
#include "monitor-processes-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const names[] = {"claude", "aider", "codex", "gemini", NULL};
	_cleanup_free_ char *buf = fuzz_strndup(data, size);
	int a = argv_match(buf, size, names);

	FUZZ_ASSERT(a >= -1 && a < 4);
	return 0;
}
