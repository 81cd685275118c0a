/* The unit-test driver linked into every tests/test-*.c binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests.h"

int test_failed;
int test_skipped;
const char *test_program;
static struct test_case *tests_head, **tests_tail = &tests_head;

void test_register(struct test_case *t)
{
	*tests_tail = t;
	tests_tail = &t->next;
}

static int selected(const char *name)
{
	const char *only = getenv("TESTFUNCS");
	size_t l = strlen(name);

	if (!only || !*only)
		return 1;
	for (const char *p = only; (p = strstr(p, name)); p += l)
		if ((p == only || p[-1] == ' ') && (p[l] == '\0' || p[l] == ' '))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	int failed = 0;

	(void)argc;
	test_program = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (struct test_case *t = tests_head; t; t = t->next) {
		if (!selected(t->name))
			continue;
		test_failed = 0;
		test_skipped = 0;
		t->func();
		/* A block that failed before it skipped still failed. */
		printf("%s: %s: %s\n", test_failed ? "FAIL" : test_skipped ? "SKIP" : "PASS",
		       test_program, t->name);
		failed += test_failed;
	}
	return failed ? 1 : 0;
}
