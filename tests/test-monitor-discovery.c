/* The discovery period and when a discovery is due. */
#include "config.h"
#include "monitor-discovery.h"
#include "monitor.h"
#include "tests.h"

#define S(x) ((usec_t)(x)*USEC_PER_SEC)

/* The period for a timeout and an interval (usec). */
static usec_t period(usec_t timeout, usec_t interval)
{
	_cleanup_(config_freep) struct config *c = config_new();

	c->idle_timeout = timeout;
	c->idle_interval = interval;
	return monitor_discovery_period(c);
}

TEST(period_is_timeout_over_30_clamped)
{
	ASSERT_UINT_EQ(period(S(1800), S(5)), S(60)); /* the defaults */
	ASSERT_UINT_EQ(period(S(3600), S(5)), S(60)); /* at most 60 s */
	ASSERT_UINT_EQ(period(S(600), S(5)), S(20));
	ASSERT_UINT_EQ(period(S(3), 200 * USEC_PER_MSEC), 200 * USEC_PER_MSEC); /* every tick */
	ASSERT_UINT_EQ(period(S(30), 100 * USEC_PER_MSEC), S(1));
	ASSERT_UINT_EQ(period(S(1800), S(90)), S(90)); /* never shorter than a tick */
}

TEST(due_first_tick_then_every_period)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct monitor_tick t = {.seq = 1, .now = S(100)};

	c->idle_timeout = S(1800);
	c->idle_interval = S(5);
	ASSERT_TRUE(monitor_discovery_due(c, 0, &t));
	ASSERT_TRUE(monitor_discovery_due(c, S(99), &t)); /* seq 1: always */
	t.seq = 2;
	t.now = S(105);
	ASSERT_TRUE(monitor_discovery_due(c, 0, &t)); /* none yet */
	ASSERT_FALSE(monitor_discovery_due(c, S(100), &t));
	t.now = S(159);
	ASSERT_FALSE(monitor_discovery_due(c, S(100), &t));
	t.now = S(160);
	ASSERT_TRUE(monitor_discovery_due(c, S(100), &t));
}
