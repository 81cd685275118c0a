/* The main of a harness outside libFuzzer (make check, both builds):
 * feeds every file of the corpus once to LLVMFuzzerTestOneInput. The
 * corpus is the directories or files given, by default
 * tests/fuzz/corpus/<name> for the program fuzz-<name> (tests/run starts
 * it from the top of the tree). A crash or a sanitizer report ends the
 * program with a non-zero status, which tests/run counts as a failure; an
 * empty or missing corpus is a failure too, so the replay cannot pass
 * without running anything. Prints "PASS: fuzz-<name>: N inputs". */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "fuzz.h"
#include "macro.h"

#define REPLAY_INPUT_MAX (16 * 1024 * 1024)

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs one file; 0, or -errno when it cannot be read. */
static int replay_file(const char *path)
{
	_cleanup_free_ char *data = NULL;
	size_t size = 0;
	int r = read_file(path, REPLAY_INPUT_MAX, &data, &size);

	if (r < 0)
		return r;
	/* a copy of exactly size bytes, so that ASan sees reads past the end */
	{
		uint8_t *copy = xmalloc(size ? size : 1);
		memcpy(copy, data, size);
		LLVMFuzzerTestOneInput(copy, size);
		free(copy);
	}
	return 0;
}

/* Runs a file, or every regular file of a directory in name order.
 * Returns how many ran, or -errno. */
static int replay_path(const char *path)
{
	struct dirent **names = NULL;
	struct stat st;
	int n, ran = 0, r = 0;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) < 0 ? -EIO : 1;
	n = scandir(path, &names, NULL, NULL);
	if (n < 0)
		return -errno;
	qsort(names, (size_t)n, sizeof(*names), name_cmp);
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", path, names[i]->d_name);

		if (r == 0 && names[i]->d_name[0] != '.' && stat(p, &st) == 0 &&
		    S_ISREG(st.st_mode)) {
			r = replay_file(p);
			if (r < 0)
				fprintf(stderr, "%s: %s\n", p, strerror(-r));
			else
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return r < 0 ? r : ran;
}

int main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	_cleanup_free_ char *dflt = NULL;
	int total = 0;

	if (argc < 2) {
		dflt = xasprintf("tests/fuzz/corpus/%s",
				 strncmp(prog, "fuzz-", 5) == 0 ? prog + 5 : prog);
		argv[1] = dflt;
		argc = 2;
	}
	for (int i = 1; i < argc; i++) {
		int r = replay_path(argv[i]);

		if (r < 0) {
			printf("FAIL: %s: %s: %s\n", prog, argv[i], strerror(-r));
			return 1;
		}
		total += r;
	}
	if (total == 0) {
		printf("FAIL: %s: no input in the corpus\n", prog);
		return 1;
	}
	printf("PASS: %s: %d inputs\n", prog, total);
	return 0;
}
