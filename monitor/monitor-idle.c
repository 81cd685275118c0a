/* The idle policy; see monitor-idle.h.
 *
 * Rules, in order:
 *   1. past max_lifetime: idle, whatever else (a cap is a cap);
 *      within warn_before of it: warning.
 *   2. within boot_grace of boot, or a keepalive running: held. Keepalive
 *      time counts as activity, so the idle clock starts when it ends.
 *   3. quiet for timeout: idle; for timeout - warn_before: warning.
 *   4. otherwise active. */
#include "monitor-idle.h"
#include "macro.h"

static const char *const state_names[_IDLE_STATE_MAX] = {
	[IDLE_STATE_ACTIVE] = "active",   [IDLE_STATE_WARNING] = "warning",
	[IDLE_STATE_IDLE] = "idle",       [IDLE_STATE_HELD] = "held",
	[IDLE_STATE_ACTING] = "acting",
};

const char *idle_state_to_string(enum idle_state s)
{
	return s < _IDLE_STATE_MAX ? state_names[s] : "unknown";
}

const char *idle_reason_to_string(enum idle_reason r)
{
	switch (r) {
	case IDLE_REASON_ACTIVITY:
		return "activity";
	case IDLE_REASON_BOOT_GRACE:
		return "boot_grace";
	case IDLE_REASON_KEEPALIVE:
		return "keepalive";
	case IDLE_REASON_TIMEOUT:
		return "timeout";
	case IDLE_REASON_MAX_LIFETIME:
		return "max_lifetime";
	}
	return "unknown";
}

void idle_decide(const struct idle_policy *p, const struct idle_input *in, struct idle_decision *ret)
{
	usec_t last = in->last_activity, deadline;

	/* A keepalive is activity until it ends: the idle clock stands still
	 * while it runs and starts from its end. */
	if (in->keepalive_until > last)
		last = in->keepalive_until;
	ret->idle_for = in->now > last ? in->now - last : 0;
	ret->idle_since = last;
	deadline = last + p->timeout;
	/* Nothing is idle during the boot grace. */
	if (deadline < p->boot_grace)
		deadline = p->boot_grace;
	if (p->max_lifetime && p->max_lifetime < deadline)
		deadline = p->max_lifetime;
	ret->deadline = deadline;

	if (p->max_lifetime && in->now >= p->max_lifetime) {
		ret->state = IDLE_STATE_IDLE;
		ret->reason = IDLE_REASON_MAX_LIFETIME;
		return;
	}
	if (p->max_lifetime && in->now + p->warn_before >= p->max_lifetime &&
	    deadline == p->max_lifetime) {
		ret->state = IDLE_STATE_WARNING;
		ret->reason = IDLE_REASON_MAX_LIFETIME;
		return;
	}
	if (in->keepalive_until > in->now) {
		ret->state = IDLE_STATE_HELD;
		ret->reason = IDLE_REASON_KEEPALIVE;
		return;
	}
	if (in->now < p->boot_grace && in->now + p->warn_before < deadline) {
		ret->state = IDLE_STATE_HELD;
		ret->reason = IDLE_REASON_BOOT_GRACE;
		return;
	}
	if (in->now >= deadline) {
		ret->state = IDLE_STATE_IDLE;
		ret->reason = IDLE_REASON_TIMEOUT;
		return;
	}
	if (in->now + p->warn_before >= deadline) {
		ret->state = IDLE_STATE_WARNING;
		ret->reason = IDLE_REASON_TIMEOUT;
		return;
	}
	ret->state = IDLE_STATE_ACTIVE;
	ret->reason = IDLE_REASON_ACTIVITY;
}
