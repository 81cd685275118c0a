/* The idle policy, as a pure function of times, so that every rule can be
 * tested without waiting: given when each thing last happened, what state
 * is the box in, and when does that change? */
#ifndef AGENTBOX_MONITOR_IDLE_H
#define AGENTBOX_MONITOR_IDLE_H

#include "time-util.h"

enum idle_state {
	IDLE_STATE_ACTIVE,  /* something happened within the timeout */
	IDLE_STATE_WARNING, /* quiet for timeout - warn_before: the action is near */
	IDLE_STATE_IDLE,    /* quiet for the timeout (or past max_lifetime) */
	IDLE_STATE_HELD,    /* boot grace or a keepalive holds the box */
	IDLE_STATE_ACTING,  /* the action is under way */
	_IDLE_STATE_MAX,
};

enum idle_reason {
	IDLE_REASON_ACTIVITY,     /* a signal was active recently */
	IDLE_REASON_BOOT_GRACE,   /* too soon after boot */
	IDLE_REASON_KEEPALIVE,    /* a keepalive holds the box */
	IDLE_REASON_TIMEOUT,      /* quiet for the timeout */
	IDLE_REASON_MAX_LIFETIME, /* the lifetime cap is (nearly) reached */
};

struct idle_policy {
	usec_t timeout;
	usec_t warn_before;
	usec_t boot_grace;
	usec_t max_lifetime; /* 0: off */
};

struct idle_input {
	usec_t now;             /* CLOCK_BOOTTIME: time since boot */
	usec_t last_activity;   /* latest activity of any signal, or the monitor's start */
	usec_t keepalive_until; /* CLOCK_BOOTTIME; 0: no keepalive */
};

struct idle_decision {
	enum idle_state state;
	enum idle_reason reason;
	usec_t idle_for; /* quiet time counted towards the timeout */
	usec_t idle_since; /* CLOCK_BOOTTIME the idle clock counts from (future while a keepalive holds) */
	usec_t deadline; /* CLOCK_BOOTTIME at which the action is due (USEC_INFINITY: none) */
};

void idle_decide(const struct idle_policy *p, const struct idle_input *in, struct idle_decision *ret);

const char *idle_state_to_string(enum idle_state s);
const char *idle_reason_to_string(enum idle_reason r);

#endif
