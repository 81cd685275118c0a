/* Password, sessions and failed-login limits of the web front; see
 * display-auth.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "display-auth.h"
#include "macro.h"

#define HASH_SIZE crypto_generichash_BYTES /* 32 */
#define TOKEN_BYTES 32

struct session {
	uint64_t id; /* 0: free */
	uint8_t hash[HASH_SIZE];
	usec_t created, expires;
};

struct client {
	char key[48]; /* "": free */
	unsigned failures;
	usec_t last, locked_until;
};

struct dauth {
	uint8_t key[crypto_generichash_KEYBYTES];
	uint8_t password[HASH_SIZE];
	struct session sessions[DAUTH_MAX_SESSIONS];
	struct client clients[DAUTH_MAX_CLIENTS];
	uint64_t next_id;
};

/* BLAKE2b of p keyed with the process's random key. */
static void dauth_hash(const struct dauth *a, const void *p, size_t n, uint8_t out[HASH_SIZE])
{
	crypto_generichash(out, HASH_SIZE, p, n, a->key, sizeof(a->key));
}

int dauth_new(const char *password, struct dauth **ret)
{
	struct dauth *a;
	size_t n = strlen(password);

	if (n < DAUTH_MIN_PASSWORD || n > DAUTH_MAX_PASSWORD)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	a = xcalloc(1, sizeof(*a));
	randombytes_buf(a->key, sizeof(a->key));
	dauth_hash(a, password, n, a->password);
	a->next_id = 1;
	*ret = a;
	return 0;
}

struct dauth *dauth_free(struct dauth *a)
{
	if (a) {
		sodium_memzero(a, sizeof(*a));
		free(a);
	}
	return NULL;
}

void dauth_client_key(const struct sockaddr_storage *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s", host);
	} else if (sa->ss_family == AF_INET6) {
		/* one host has a /64: counting its addresses one by one would let
		 * it try 2^64 times as often */
		struct in6_addr a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr;

		memset(a6.s6_addr + 8, 0, 8);
		inet_ntop(AF_INET6, &a6, host, sizeof(host));
		snprintf(buf, size, "%s/64", host);
	} else
		snprintf(buf, size, "local");
}

/* The client's row; a new one (the least recently failed, or a forgotten
 * one, making room) when create. NULL when absent and !create. */
static struct client *dauth_client(struct dauth *a, const char *key, usec_t now, int create)
{
	struct client *free_row = NULL, *oldest = NULL;

	for (size_t i = 0; i < DAUTH_MAX_CLIENTS; i++) {
		struct client *cl = &a->clients[i];

		if (cl->key[0] && now >= cl->locked_until && now - cl->last >= DAUTH_FORGET_USEC)
			cl->key[0] = 0; /* quiet for long enough: forgiven */
		if (cl->key[0] && streq(cl->key, key))
			return cl;
		if (!cl->key[0] && !free_row)
			free_row = cl;
		if (cl->key[0] && (!oldest || cl->last < oldest->last))
			oldest = cl;
	}
	if (!create)
		return NULL;
	if (!free_row)
		free_row = oldest;
	*free_row = (struct client){0};
	snprintf(free_row->key, sizeof(free_row->key), "%s", key);
	return free_row;
}

/* A new session at now: the oldest one makes room when all are taken. */
static uint64_t dauth_session_new(struct dauth *a, usec_t now, char ret_token[DAUTH_TOKEN_SIZE])
{
	uint8_t token[TOKEN_BYTES];
	struct session *s = NULL;

	for (size_t i = 0; i < DAUTH_MAX_SESSIONS; i++) {
		struct session *t = &a->sessions[i];

		if (!t->id || now >= t->expires) {
			s = t;
			break;
		}
		if (!s || t->created < s->created)
			s = t;
	}
	randombytes_buf(token, sizeof(token));
	sodium_bin2base64(ret_token, DAUTH_TOKEN_SIZE, token, sizeof(token),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	dauth_hash(a, token, sizeof(token), s->hash);
	sodium_memzero(token, sizeof(token));
	s->id = a->next_id++;
	s->created = now;
	s->expires = now + DAUTH_SESSION_USEC;
	return s->id;
}

int dauth_login(struct dauth *a, const char *client, const char *password, size_t len, usec_t now,
		char ret_token[DAUTH_TOKEN_SIZE], uint64_t *ret_session, usec_t *ret_retry,
		unsigned *ret_failures)
{
	struct client *cl = dauth_client(a, client, now, 0);
	uint8_t h[HASH_SIZE];
	int ok;

	*ret_retry = 0;
	*ret_failures = cl ? cl->failures : 0;
	if (cl && now < cl->locked_until) {
		*ret_retry = cl->locked_until - now;
		return -EBUSY;
	}
	dauth_hash(a, password, len, h);
	ok = sodium_memcmp(h, a->password, HASH_SIZE) == 0;
	sodium_memzero(h, sizeof(h));
	if (ok) {
		if (cl)
			cl->key[0] = 0;
		*ret_failures = 0;
		*ret_session = dauth_session_new(a, now, ret_token);
		return 0;
	}
	if (!cl)
		cl = dauth_client(a, client, now, 1);
	cl->failures++;
	cl->last = now;
	if (cl->failures >= DAUTH_FREE_FAILURES) {
		unsigned shift = MIN(cl->failures - DAUTH_FREE_FAILURES, 20u);

		cl->locked_until = now + MIN(USEC_PER_SEC << shift, DAUTH_MAX_LOCK_USEC);
		*ret_retry = cl->locked_until - now;
	}
	*ret_failures = cl->failures;
	return -EACCES;
}

/* The value of the session cookie in a Cookie header ("a=1; b=2"):
 * pointer and length into cookie; NULL if absent. */
static const char *cookie_value(const char *cookie, size_t *ret_len)
{
	const size_t l = strlen(DAUTH_COOKIE);

	for (const char *p = cookie; p && *p;) {
		p += strspn(p, " \t;");
		if (strncmp(p, DAUTH_COOKIE, l) == 0 && p[l] == '=') {
			p += l + 1;
			*ret_len = strcspn(p, "; \t");
			return p;
		}
		p = strchr(p, ';');
	}
	return NULL;
}

uint64_t dauth_session_find(struct dauth *a, const char *cookie, usec_t now)
{
	uint8_t token[TOKEN_BYTES], h[HASH_SIZE];
	const char *v;
	size_t len = 0, bin_len = 0;
	uint64_t found = 0;

	v = cookie ? cookie_value(cookie, &len) : NULL;
	if (!v || len != DAUTH_TOKEN_SIZE - 1 ||
	    sodium_base642bin(token, sizeof(token), v, len, NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) < 0 ||
	    bin_len != sizeof(token))
		return 0;
	dauth_hash(a, token, sizeof(token), h);
	/* every row compared, in constant time each */
	for (size_t i = 0; i < DAUTH_MAX_SESSIONS; i++) {
		const struct session *s = &a->sessions[i];

		if (sodium_memcmp(h, s->hash, HASH_SIZE) == 0 && s->id && now < s->expires)
			found = s->id;
	}
	sodium_memzero(token, sizeof(token));
	return found;
}

int dauth_session_alive(const struct dauth *a, uint64_t id, usec_t now)
{
	for (size_t i = 0; id && i < DAUTH_MAX_SESSIONS; i++)
		if (a->sessions[i].id == id)
			return now < a->sessions[i].expires;
	return 0;
}

usec_t dauth_session_expiry(const struct dauth *a, uint64_t id)
{
	for (size_t i = 0; id && i < DAUTH_MAX_SESSIONS; i++)
		if (a->sessions[i].id == id)
			return a->sessions[i].expires;
	return 0;
}

void dauth_session_end(struct dauth *a, uint64_t id)
{
	for (size_t i = 0; id && i < DAUTH_MAX_SESSIONS; i++)
		if (a->sessions[i].id == id)
			sodium_memzero(&a->sessions[i], sizeof(a->sessions[i]));
}
