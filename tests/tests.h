/* Unit tests: TEST(name) { ... } blocks with ASSERT_* macros (after
 * systemd's tests.h and OpenSSH's regress/unittests). Each block runs in
 * order; a failed assertion ends that block and is reported as
 *   FAIL: <file>: <name>: <file>:<line>: <expression>
 * and tests/run sums the PASS:/FAIL: lines. $TESTFUNCS="a b" runs only
 * those blocks. */
#ifndef AGENTBOX_TESTS_H
#define AGENTBOX_TESTS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*func)(void);
	struct test_case *next;
};

void test_register(struct test_case *t);
/* Set by a failed assertion in the running block. */
extern int test_failed;
/* Set by TEST_SKIP: the block is reported as skipped, not passed. */
extern int test_skipped;
extern const char *test_program;

#define TEST(name)                                                                                 \
	static void test_##name(void);                                                             \
	static struct test_case test_case_##name = {#name, test_##name, NULL};                     \
	__attribute__((constructor)) static void test_register_##name(void)                        \
	{                                                                                          \
		test_register(&test_case_##name);                                                  \
	}                                                                                          \
	static void test_##name(void)

#define TEST_FAIL_AT(...)                                                                          \
	do {                                                                                       \
		printf("  %s:%d: ", __FILE__, __LINE__);                                           \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		test_failed = 1;                                                                   \
		return;                                                                            \
	} while (0)

/* Ends the running block as skipped, with the reason printed. */
#define TEST_SKIP(...)                                                                             \
	do {                                                                                       \
		printf("  skipped: ");                                                             \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		test_skipped = 1;                                                                  \
		return;                                                                            \
	} while (0)

#define ASSERT_TRUE(e)                                                                             \
	do {                                                                                       \
		if (!(e))                                                                          \
			TEST_FAIL_AT("expected true: %s", #e);                                     \
	} while (0)
#define ASSERT_FALSE(e) ASSERT_TRUE(!(e))
#define ASSERT_INT_EQ(a, b)                                                                        \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b)                                                                      \
			TEST_FAIL_AT("%s == %s: %lld != %lld", #a, #b, _a, _b);                    \
	} while (0)
#define ASSERT_UINT_EQ(a, b)                                                                       \
	do {                                                                                       \
		unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b);     \
		if (_a != _b)                                                                      \
			TEST_FAIL_AT("%s == %s: %llu != %llu", #a, #b, _a, _b);                    \
	} while (0)
#define ASSERT_OK(e) ASSERT_INT_EQ(e, 0)
#define ASSERT_ERR(e, err) ASSERT_INT_EQ(e, err)
#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                             \
			TEST_FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)",     \
				     _b ? _b : "(null)");                                          \
	} while (0)
#define ASSERT_STR_CONTAINS(a, b)                                                                  \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !strstr(_a, _b))                                                        \
			TEST_FAIL_AT("%s contains %s: \"%s\" lacks \"%s\"", #a, #b,                \
				     _a ? _a : "(null)", _b);                                      \
	} while (0)
#define ASSERT_NOT_NULL(p) ASSERT_TRUE((p) != NULL)

#endif
