/* The web front's authentication (display.web_password_file): the
 * password check, the sessions a login opens and the per-client limit on
 * failed logins. No sockets and no HTTP here (display-web.c speaks HTTP);
 * the crypto is libsodium's.
 *
 * - The password is kept only as a BLAKE2b hash keyed with a random
 *   per-process key; a try is hashed the same way and the two hashes
 *   compared in constant time, so neither its length nor its bytes leak
 *   through timing.
 * - A session is a random 256-bit token (the cookie), kept as its hash
 *   with an expiry, in a table of DAUTH_MAX_SESSIONS (the oldest goes
 *   when it is full).
 * - Failures are counted per client (an IPv4 address or an IPv6 /64) in
 *   a table of DAUTH_MAX_CLIENTS: after DAUTH_FREE_FAILURES failures each
 *   further one locks the client out for 1 s, 2 s, 4 s, ... up to
 *   DAUTH_MAX_LOCK_USEC; a success clears it. */
#ifndef AGENTBOX_DISPLAY_AUTH_H
#define AGENTBOX_DISPLAY_AUTH_H

#include <stdint.h>
#include <sys/socket.h>

#include "time-util.h"

struct dauth;

#define DAUTH_MIN_PASSWORD 16
#define DAUTH_MAX_PASSWORD 1024
#define DAUTH_MAX_SESSIONS 64
#define DAUTH_SESSION_USEC (12 * 3600 * USEC_PER_SEC)
#define DAUTH_MAX_CLIENTS 256
#define DAUTH_FREE_FAILURES 5
#define DAUTH_MAX_LOCK_USEC (600 * USEC_PER_SEC)
#define DAUTH_FORGET_USEC (3600 * USEC_PER_SEC)

/* The cookie's name, and its value's size: base64url of 32 bytes, NUL. */
#define DAUTH_COOKIE "agentbox_session"
#define DAUTH_TOKEN_SIZE 44

/* Takes a keyed hash of password (the caller wipes its copy). Returns
 * 0, -EINVAL when it is shorter than DAUTH_MIN_PASSWORD or longer than
 * DAUTH_MAX_PASSWORD, -EIO when libsodium cannot start. */
int dauth_new(const char *password, struct dauth **ret);
struct dauth *dauth_free(struct dauth *a);

/* The rate limit's key for a peer: "1.2.3.4" or "2001:db8:1:2::/64". */
void dauth_client_key(const struct sockaddr_storage *sa, char *buf, size_t size);

/* A login by client with password (len bytes) at now. Returns 0 and the
 * new session's token in ret_token and its id in *ret_session; -EACCES
 * for a wrong password; -EBUSY while the client is locked out, with the
 * time left in *ret_retry (not checking the password). *ret_failures:
 * the client's failures in a row after this try. */
int dauth_login(struct dauth *a, const char *client, const char *password, size_t len, usec_t now,
		char ret_token[DAUTH_TOKEN_SIZE], uint64_t *ret_session, usec_t *ret_retry,
		unsigned *ret_failures);

/* The session whose token the Cookie header value carries, if it is
 * alive at now: its id (> 0), else 0. NULL cookie: 0. */
uint64_t dauth_session_find(struct dauth *a, const char *cookie, usec_t now);

/* Is session id still open at now (not ended, not expired)? */
int dauth_session_alive(const struct dauth *a, uint64_t id, usec_t now);

/* When session id expires (CLOCK_MONOTONIC); 0 when it is gone. */
usec_t dauth_session_expiry(const struct dauth *a, uint64_t id);

/* Ends a session (logout); unknown ids are ignored. */
void dauth_session_end(struct dauth *a, uint64_t id);

#endif
