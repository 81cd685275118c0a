/* Fuzz harnesses (tests/fuzz/fuzz-<name>.c): each defines
 * LLVMFuzzerTestOneInput() over one parser of hostile input. make fuzz
 * links them with libFuzzer (clang); every other build links them with
 * replay.c, a main that feeds each file of tests/fuzz/corpus/<name>/ once. */
#ifndef AGENTBOX_FUZZ_H
#define AGENTBOX_FUZZ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (free it). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);

	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Only a crash or a sanitizer report matters: the programs' warnings about
 * the bad input are silenced (once). */
static inline void fuzz_quiet(void)
{
	log_set_max_level(LOG_EMERG - 1);
}

/* Fails the run (libFuzzer records the input as a crash) when an invariant
 * does not hold. */
#define FUZZ_ASSERT(e)                                                                             \
	do {                                                                                       \
		if (!(e)) {                                                                        \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #e);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
