/* Duration parsing and formatting, with the boundary cases. */
#include <errno.h>

#include "tests.h"
#include "time-util.h"

TEST(parse_duration_units)
{
	usec_t u;

	ASSERT_OK(parse_duration("90s", &u));
	ASSERT_UINT_EQ(u, 90 * USEC_PER_SEC);
	ASSERT_OK(parse_duration("30m", &u));
	ASSERT_UINT_EQ(u, 30 * USEC_PER_MINUTE);
	ASSERT_OK(parse_duration("2h", &u));
	ASSERT_UINT_EQ(u, 2 * USEC_PER_HOUR);
	ASSERT_OK(parse_duration("1h30m", &u));
	ASSERT_UINT_EQ(u, 90 * USEC_PER_MINUTE);
	ASSERT_OK(parse_duration("1h 30m 5s", &u));
	ASSERT_UINT_EQ(u, 90 * USEC_PER_MINUTE + 5 * USEC_PER_SEC);
	ASSERT_OK(parse_duration("500ms", &u));
	ASSERT_UINT_EQ(u, 500 * USEC_PER_MSEC);
	ASSERT_OK(parse_duration("45", &u));
	ASSERT_UINT_EQ(u, 45 * USEC_PER_SEC);
	ASSERT_OK(parse_duration("2d", &u));
	ASSERT_UINT_EQ(u, 2 * USEC_PER_DAY);
	ASSERT_OK(parse_duration("10 min", &u));
	ASSERT_UINT_EQ(u, 10 * USEC_PER_MINUTE);
	ASSERT_OK(parse_duration("0s", &u));
	ASSERT_UINT_EQ(u, 0);
}

TEST(parse_duration_refuses)
{
	usec_t u;

	ASSERT_ERR(parse_duration("", &u), -EINVAL);
	ASSERT_ERR(parse_duration("   ", &u), -EINVAL);
	ASSERT_ERR(parse_duration("30 minutes", &u), -EINVAL);
	ASSERT_ERR(parse_duration("m", &u), -EINVAL);
	ASSERT_ERR(parse_duration("-5m", &u), -EINVAL);
	ASSERT_ERR(parse_duration("5x", &u), -EINVAL);
	ASSERT_ERR(parse_duration("1.5h", &u), -EINVAL);
	ASSERT_ERR(parse_duration("99999999999999999999s", &u), -ERANGE);
	ASSERT_ERR(parse_duration("999999999999d", &u), -ERANGE);
	ASSERT_ERR(parse_duration(NULL, &u), -EINVAL);
}

TEST(format_duration_two_units)
{
	char b[FORMAT_DURATION_MAX];

	ASSERT_STR_EQ(format_duration(b, sizeof(b), 0), "0s");
	ASSERT_STR_EQ(format_duration(b, sizeof(b), 250 * USEC_PER_MSEC), "250ms");
	ASSERT_STR_EQ(format_duration(b, sizeof(b), 45 * USEC_PER_SEC), "45s");
	ASSERT_STR_EQ(format_duration(b, sizeof(b), 30 * USEC_PER_MINUTE), "30m");
	ASSERT_STR_EQ(format_duration(b, sizeof(b), 2 * USEC_PER_HOUR + 5 * USEC_PER_MINUTE + 7 * USEC_PER_SEC), "2h 5m");
	ASSERT_STR_EQ(format_duration(b, sizeof(b), 2 * USEC_PER_HOUR + 5 * USEC_PER_SEC), "2h");
	ASSERT_STR_EQ(format_duration(b, sizeof(b), 3 * USEC_PER_DAY + USEC_PER_HOUR), "3d 1h");
}

TEST(format_duration_round_trips)
{
	char b[FORMAT_DURATION_MAX];
	usec_t u;

	ASSERT_OK(parse_duration(format_duration(b, sizeof(b), 90 * USEC_PER_MINUTE), &u));
	ASSERT_UINT_EQ(u, 90 * USEC_PER_MINUTE);
}

TEST(format_duration_exact_keeps_all)
{
	char b[FORMAT_DURATION_MAX];
	usec_t u;

	ASSERT_STR_EQ(format_duration_exact(b, sizeof(b), 0), "0s");
	ASSERT_STR_EQ(format_duration_exact(b, sizeof(b), USEC_PER_HOUR + 5 * USEC_PER_SEC + 250 * USEC_PER_MSEC),
		      "1h 5s 250ms");
	ASSERT_OK(parse_duration(b, &u));
	ASSERT_UINT_EQ(u, USEC_PER_HOUR + 5 * USEC_PER_SEC + 250 * USEC_PER_MSEC);
}
