/* What reaches the terminal from outside (display/display-terminal.c,
 * lib/docker-exec.c): a browser's control message (dterm_parse_resize), a
 * request target (dterm_path), and the daemon's answer to an exec start
 * (docker_exec_parse_upgrade). */
#include <errno.h>

#include "display-terminal.h"
#include "docker-exec.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size);
	_cleanup_free_ char *file = NULL, *error = NULL;
	unsigned rows = 0, cols = 0;
	ssize_t n;
	int r;

	r = dterm_parse_resize((const char *)data, size, &rows, &cols);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	if (r == 0)
		FUZZ_ASSERT(rows >= 1 && rows <= DOCKER_EXEC_MAX_ROWS && cols >= 1 &&
			    cols <= DOCKER_EXEC_MAX_COLS);
	r = dterm_path(text, &file);
	FUZZ_ASSERT(r == DTERM_PATH_NONE || r == DTERM_PATH_FILE || r == DTERM_PATH_WS);
	if (r == DTERM_PATH_FILE)
		FUZZ_ASSERT(file && file[0] == '/');
	n = docker_exec_parse_upgrade(text, strlen(text), &error);
	FUZZ_ASSERT(n == 0 || n == -EPROTO || (n >= 4 && (size_t)n <= strlen(text)));
	return 0;
}
