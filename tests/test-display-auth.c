/* The web front's login pieces (display/display-auth.c, the form and
 * redirect parsers of display-web.c): password check, lockout after
 * failures and its recovery, sessions and their bounds, client keys. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "../display/display-auth.h"
#include "../display/display-web-internal.h"
#include "macro.h"
#include "tests.h"

#define PW "correct-horse-battery-staple"
#define T0 (1000 * USEC_PER_SEC)

/* A login try; returns dauth_login's result. */
static int try(struct dauth *a, const char *client, const char *pw, usec_t now, char cookie[128],
	       uint64_t *session, usec_t *retry)
{
	char token[DAUTH_TOKEN_SIZE];
	unsigned failures;
	int k = dauth_login(a, client, pw, strlen(pw), now, token, session, retry, &failures);

	if (k == 0 && cookie)
		snprintf(cookie, 128, "other=1; " DAUTH_COOKIE "=%s", token);
	return k;
}

TEST(password_length)
{
	struct dauth *a = NULL;

	ASSERT_ERR(dauth_new("short-password", &a), -EINVAL);
	ASSERT_OK(dauth_new("sixteen-chars-ok", &a));
	a = dauth_free(a);
}

TEST(login_and_session)
{
	struct dauth *a = NULL;
	char cookie[128], bad[128];
	uint64_t s = 0;
	usec_t retry;

	ASSERT_OK(dauth_new(PW, &a));
	ASSERT_ERR(try(a, "192.0.2.1", PW "x", T0, NULL, &s, &retry), -EACCES);
	ASSERT_ERR(try(a, "192.0.2.1", "correct-horse-battery-stapl", T0, NULL, &s, &retry),
		   -EACCES);
	ASSERT_ERR(try(a, "192.0.2.1", "", T0, NULL, &s, &retry), -EACCES);
	ASSERT_OK(try(a, "192.0.2.1", PW, T0, cookie, &s, &retry));
	ASSERT_TRUE(s > 0);
	ASSERT_UINT_EQ(dauth_session_find(a, cookie, T0 + 1), s);
	ASSERT_UINT_EQ(dauth_session_find(a, strchr(cookie, ';') + 2, T0 + 1), s);
	/* a changed token, a missing one, a truncated one: no session */
	snprintf(bad, sizeof(bad), "%s", cookie);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
	ASSERT_UINT_EQ(dauth_session_find(a, bad, T0 + 1), 0);
	ASSERT_UINT_EQ(dauth_session_find(a, "other=1", T0 + 1), 0);
	ASSERT_UINT_EQ(dauth_session_find(a, NULL, T0 + 1), 0);
	bad[strlen(bad) - 3] = 0;
	ASSERT_UINT_EQ(dauth_session_find(a, bad, T0 + 1), 0);
	/* expiry, then a logout */
	ASSERT_UINT_EQ(dauth_session_find(a, cookie, T0 + DAUTH_SESSION_USEC), 0);
	ASSERT_FALSE(dauth_session_alive(a, s, T0 + DAUTH_SESSION_USEC));
	ASSERT_TRUE(dauth_session_alive(a, s, T0 + 5));
	ASSERT_UINT_EQ(dauth_session_expiry(a, s), T0 + DAUTH_SESSION_USEC);
	dauth_session_end(a, s);
	ASSERT_UINT_EQ(dauth_session_expiry(a, s), 0);
	ASSERT_FALSE(dauth_session_alive(a, s, T0 + 5));
	ASSERT_UINT_EQ(dauth_session_find(a, cookie, T0 + 5), 0);
	a = dauth_free(a);
}

TEST(lockout_grows_and_recovers)
{
	struct dauth *a = NULL;
	uint64_t s;
	usec_t retry, t = T0;

	ASSERT_OK(dauth_new(PW, &a));
	for (int i = 1; i < DAUTH_FREE_FAILURES; i++) {
		ASSERT_ERR(try(a, "192.0.2.9", "wrong", t, NULL, &s, &retry), -EACCES);
		ASSERT_UINT_EQ(retry, 0);
	}
	ASSERT_ERR(try(a, "192.0.2.9", "wrong", t, NULL, &s, &retry), -EACCES);
	ASSERT_UINT_EQ(retry, USEC_PER_SEC);
	/* locked: even the right password is not looked at */
	ASSERT_ERR(try(a, "192.0.2.9", PW, t + USEC_PER_SEC / 2, NULL, &s, &retry), -EBUSY);
	ASSERT_UINT_EQ(retry, USEC_PER_SEC / 2);
	/* another address is not locked */
	ASSERT_OK(try(a, "192.0.2.10", PW, t, NULL, &s, &retry));
	/* each further failure doubles the wait, up to the cap */
	t += USEC_PER_SEC;
	ASSERT_ERR(try(a, "192.0.2.9", "wrong", t, NULL, &s, &retry), -EACCES);
	ASSERT_UINT_EQ(retry, 2 * USEC_PER_SEC);
	for (int i = 0; i < 30; i++) {
		t += retry;
		ASSERT_ERR(try(a, "192.0.2.9", "wrong", t, NULL, &s, &retry), -EACCES);
	}
	ASSERT_UINT_EQ(retry, DAUTH_MAX_LOCK_USEC);
	/* after the wait the right password works and clears the count */
	t += retry;
	ASSERT_OK(try(a, "192.0.2.9", PW, t, NULL, &s, &retry));
	ASSERT_ERR(try(a, "192.0.2.9", "wrong", t, NULL, &s, &retry), -EACCES);
	ASSERT_UINT_EQ(retry, 0);
	a = dauth_free(a);
}

TEST(tables_are_bounded)
{
	struct dauth *a = NULL;
	char cookie[128], first[128], client[32];
	uint64_t s, first_s = 0;
	usec_t retry;

	ASSERT_OK(dauth_new(PW, &a));
	/* more sessions than the table holds: the oldest goes */
	for (int i = 0; i <= DAUTH_MAX_SESSIONS; i++) {
		ASSERT_OK(try(a, "192.0.2.1", PW, T0 + (usec_t)i, cookie, &s, &retry));
		if (i == 0) {
			snprintf(first, sizeof(first), "%s", cookie);
			first_s = s;
		}
	}
	ASSERT_UINT_EQ(dauth_session_find(a, first, T0 + 1000), 0);
	ASSERT_FALSE(dauth_session_alive(a, first_s, T0 + 1000));
	ASSERT_UINT_EQ(dauth_session_find(a, cookie, T0 + 1000), s);
	/* a locked client stays locked while many others fail once */
	for (int i = 0; i < DAUTH_FREE_FAILURES; i++)
		try(a, "198.51.100.1", "wrong", T0, NULL, &s, &retry);
	for (int i = 0; i < DAUTH_MAX_CLIENTS / 2; i++) {
		snprintf(client, sizeof(client), "203.0.113.%d", i);
		ASSERT_ERR(try(a, client, "wrong", T0 + 1, NULL, &s, &retry), -EACCES);
	}
	ASSERT_ERR(try(a, "198.51.100.1", PW, T0 + 2, NULL, &s, &retry), -EBUSY);
	a = dauth_free(a);
}

TEST(client_key)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char buf[64];

	in4->sin_family = AF_INET;
	in4->sin_port = htons(1234);
	inet_pton(AF_INET, "192.0.2.7", &in4->sin_addr);
	dauth_client_key(&ss, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "192.0.2.7");
	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &in6->sin6_addr);
	dauth_client_key(&ss, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "2001:db8:1:2::/64");
}

TEST(form_value)
{
	char *v;

	v = http_form_value("next=%2Fvnc.html&password=a%2Bb+c%26d%3D", "password");
	ASSERT_STR_EQ(v, "a+b c&d=");
	free(v);
	v = http_form_value("xpassword=1&password=", "password");
	ASSERT_STR_EQ(v, "");
	free(v);
	ASSERT_TRUE(http_form_value("password", "password") == NULL);
	ASSERT_TRUE(http_form_value("password=a%00b", "password") == NULL);
	ASSERT_TRUE(http_form_value("password=a%4", "password") == NULL);
	ASSERT_TRUE(http_form_value("password=a%zz", "password") == NULL);
	ASSERT_TRUE(http_form_value("", "password") == NULL);
}

TEST(local_path)
{
	ASSERT_TRUE(http_local_path("/vnc.html"));
	ASSERT_TRUE(http_local_path("/vnc.html?autoconnect=1&resize=remote"));
	ASSERT_FALSE(http_local_path("//evil.example/"));
	ASSERT_FALSE(http_local_path("/\\evil.example/"));
	ASSERT_FALSE(http_local_path("https://evil.example/"));
	ASSERT_FALSE(http_local_path("/a\"><script>"));
	ASSERT_FALSE(http_local_path("/a\r\nSet-Cookie: x=1"));
	ASSERT_FALSE(http_local_path(""));
	ASSERT_FALSE(http_local_path(NULL));
}
