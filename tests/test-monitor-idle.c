/* The idle policy, rule by rule, without waiting. Times in seconds since boot. */
#include "monitor-idle.h"
#include "tests.h"

#define S(x) ((usec_t)(x) * USEC_PER_SEC)

static const struct idle_policy policy = {
	.timeout = S(1800),
	.warn_before = S(300),
	.boot_grace = S(600),
	.max_lifetime = 0,
};

static struct idle_decision decide(const struct idle_policy *p, usec_t now, usec_t last,
				   usec_t keepalive)
{
	struct idle_input in = {.now = S(now), .last_activity = S(last), .keepalive_until = S(keepalive)};
	struct idle_decision d;

	idle_decide(p, &in, &d);
	return d;
}

TEST(active_warning_idle)
{
	struct idle_decision d;

	d = decide(&policy, 5000, 4000, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_ACTIVE);
	ASSERT_UINT_EQ(d.idle_for, S(1000));
	ASSERT_UINT_EQ(d.deadline, S(5800));
	d = decide(&policy, 5499, 4000, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_ACTIVE);
	d = decide(&policy, 5500, 4000, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_WARNING);
	ASSERT_INT_EQ(d.reason, IDLE_REASON_TIMEOUT);
	d = decide(&policy, 5799, 4000, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_WARNING);
	d = decide(&policy, 5800, 4000, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_IDLE);
	ASSERT_INT_EQ(d.reason, IDLE_REASON_TIMEOUT);
	ASSERT_UINT_EQ(d.idle_for, S(1800));
}

TEST(activity_resets)
{
	struct idle_decision d = decide(&policy, 5700, 5699, 0);

	ASSERT_INT_EQ(d.state, IDLE_STATE_ACTIVE);
	ASSERT_UINT_EQ(d.idle_for, S(1));
}

TEST(boot_grace_holds)
{
	struct idle_policy p = policy;
	struct idle_decision d;

	/* a short timeout cannot make the box idle during the grace */
	p.timeout = S(60);
	p.warn_before = S(10);
	d = decide(&p, 100, 0, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_HELD);
	ASSERT_INT_EQ(d.reason, IDLE_REASON_BOOT_GRACE);
	ASSERT_UINT_EQ(d.deadline, S(600));
	d = decide(&p, 590, 0, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_WARNING);
	d = decide(&p, 600, 0, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_IDLE);
	/* the default timeout outlasts the grace: the grace changes nothing */
	d = decide(&policy, 1400, 0, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_ACTIVE);
	d = decide(&policy, 1500, 0, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_WARNING);
}

TEST(keepalive_holds_then_counts_as_activity)
{
	struct idle_decision d;

	d = decide(&policy, 9000, 100, 9500);
	ASSERT_INT_EQ(d.state, IDLE_STATE_HELD);
	ASSERT_INT_EQ(d.reason, IDLE_REASON_KEEPALIVE);
	ASSERT_UINT_EQ(d.idle_for, 0);
	ASSERT_UINT_EQ(d.deadline, S(9500 + 1800));
	/* ended at 9500: the idle clock starts there */
	d = decide(&policy, 9600, 100, 9500);
	ASSERT_INT_EQ(d.state, IDLE_STATE_ACTIVE);
	ASSERT_UINT_EQ(d.idle_for, S(100));
	d = decide(&policy, 9500 + 1800, 100, 9500);
	ASSERT_INT_EQ(d.state, IDLE_STATE_IDLE);
}

TEST(max_lifetime_caps_everything)
{
	struct idle_policy p = policy;
	struct idle_decision d;

	p.max_lifetime = S(8 * 3600);
	d = decide(&p, 8 * 3600 - 301, 8 * 3600 - 302, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_ACTIVE);
	d = decide(&p, 8 * 3600 - 300, 8 * 3600 - 301, 0);
	ASSERT_INT_EQ(d.state, IDLE_STATE_WARNING);
	ASSERT_INT_EQ(d.reason, IDLE_REASON_MAX_LIFETIME);
	/* activity and a keepalive do not extend it */
	d = decide(&p, 8 * 3600, 8 * 3600, 9 * 3600);
	ASSERT_INT_EQ(d.state, IDLE_STATE_IDLE);
	ASSERT_INT_EQ(d.reason, IDLE_REASON_MAX_LIFETIME);
}

TEST(names)
{
	ASSERT_STR_EQ(idle_state_to_string(IDLE_STATE_HELD), "held");
	ASSERT_STR_EQ(idle_state_to_string(IDLE_STATE_ACTING), "acting");
	ASSERT_STR_EQ(idle_reason_to_string(IDLE_REASON_BOOT_GRACE), "boot_grace");
}
