/* /proc/<pid>/stat lines (monitor/monitor-proc.c): any bytes as a stat
 * file (proc_parse_stat, which a process can steer through its comm), and
 * the command name it yields against agent names (proc_name_match). */
#include "fuzz.h"
#include "monitor-proc-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const names[] = {"claude", "aider", "codex-cli-with-a-long-name", NULL};
	_cleanup_free_ char *buf = fuzz_strndup(data, size);
	struct proc_info p = {0};

	if (proc_parse_stat(buf, size, &p) < 0)
		return 0;
	FUZZ_ASSERT(memchr(p.comm, '\0', sizeof(p.comm)));
	proc_name_match(p.comm, strlen(p.comm), names);
	return 0;
}
