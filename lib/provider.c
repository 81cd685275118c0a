/* Providers: the table of clouds, detection, and the delete retries; see
 * provider.h. Requests go through lib/http.c, metadata through lib/imds.c.
 * Each cloud's own parts are in provider-<name>.c, one row each in
 * provider_table[]. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "provider-http.h"
#include "provider.h"

/* In "auto" detection order: Hetzner's and DigitalOcean's paths answer
 * 404 elsewhere, EC2's token PUT is its own, and Scaleway's address is
 * asked last because it is the only one not at 169.254.169.254. */
static const struct provider_ops *const provider_table[] = {
    &provider_hetzner, &provider_digitalocean, &provider_ec2, &provider_scaleway, &provider_none,
};

const struct provider_ops *provider_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(provider_table); i++)
		if (name && streq(provider_table[i]->name, name))
			return provider_table[i];
	return NULL;
}

const char *const *provider_names(void)
{
	static const char *names[ELEMENTSOF(provider_table) + 2];

	/* idempotent: every call writes the same pointers */
	names[0] = "auto";
	for (size_t i = 0; i < ELEMENTSOF(provider_table); i++)
		names[i + 1] = provider_table[i]->name;
	return names;
}

void provider_global_init(void)
{
	http_global_init();
}

int copy_printable(char *dst, size_t size, const char *src, size_t len)
{
	if (len == 0 || len >= size)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!isprint((unsigned char)src[i]))
			return -EINVAL;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

int provider_valid_hetzner_id(const char *s)
{
	return provider_valid_decimal_id(s);
}

int provider_valid_decimal_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 19 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int provider_valid_ec2_id(const char *s)
{
	size_t n;

	if (!startswith(s, "i-"))
		return 0;
	n = strlen(s + 2);
	if (n != 8 && n != 17)
		return 0;
	for (size_t i = 2; s[i]; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return 1;
}

/* The row named by provider.name; NULL for "auto". */
static const struct provider_ops *config_row(const struct config *c)
{
	return streq(c->provider_name, "auto") ? NULL : provider_find(c->provider_name);
}

static int detect_auto(const struct config *c, struct provider_identity *ret, char *why,
		       size_t why_size)
{
	const char *silent[ELEMENTSOF(provider_table)] = {0};
	char seen[PROVIDER_TEXT_MAX] = "", one[PROVIDER_TEXT_MAX];
	size_t n_silent = 0;
	int r, last = -ENXIO;

	for (size_t i = 0; i < ELEMENTSOF(provider_table); i++) {
		const struct provider_ops *p = provider_table[i];
		int skip = 0;

		if (!p->probe)
			continue;
		/* a host that gave no answer is not asked again */
		for (size_t k = 0; k < n_silent; k++)
			skip |= streq(silent[k], p->metadata_host);
		if (skip)
			continue;
		one[0] = '\0';
		r = p->probe(c, one, sizeof(one));
		if (r > 0)
			return p->identify(c, ret, why, why_size);
		if (r < 0) {
			silent[n_silent++] = p->metadata_host;
			last = r;
			snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen),
				 "%sno metadata service answered at %s (%s after %d tries of %llums)",
				 seen[0] ? "; " : "", p->metadata_host, one,
				 1 + (int)c->provider_metadata_retries,
				 (unsigned long long)(c->provider_metadata_timeout / USEC_PER_MSEC));
		} else
			snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s%s: %s",
				 seen[0] ? "; " : "", p->name, one);
	}
	snprintf(why, why_size, "no known cloud's metadata service answered (%s)", seen);
	return last;
}

int provider_detect(const struct config *c, struct provider_identity *ret, char *why,
		    size_t why_size)
{
	const struct provider_ops *p = config_row(c);

	*ret = (struct provider_identity){0};
	why[0] = '\0';
	if (p)
		return p->identify(c, ret, why, why_size);
	if (!streq(c->provider_name, "auto")) {
		snprintf(why, why_size, "provider.name '%.40s' is no known cloud", c->provider_name);
		return -EINVAL;
	}
	return detect_auto(c, ret, why, why_size);
}

/* The row of an identity's provider; "none" for anything unknown. */
static const struct provider_ops *id_row(const struct provider_identity *id)
{
	const struct provider_ops *p = provider_find(id->provider);

	return p ? p : &provider_none;
}

enum provider_method provider_method(const struct config *c, const struct provider_identity *id)
{
	return id_row(id)->method(c);
}

void provider_describe_delete(const struct config *c, const struct provider_identity *id, char *buf,
			      size_t size)
{
	id_row(id)->describe_delete(c, id, buf, size);
}

int provider_check_ready(const struct config *c, const struct provider_identity *id, char *why,
			 size_t why_size)
{
	const struct provider_ops *p = id_row(id);

	why[0] = '\0';
	return p->check_ready ? p->check_ready(c, id, why, why_size) : 0;
}

int provider_poweroff_deletes(const struct config *c, const struct provider_identity *id,
			      char *why, size_t why_size)
{
	const struct provider_ops *p = id_row(id);

	why[0] = '\0';
	if (!p->poweroff_deletes) {
		snprintf(why, why_size, "a poweroff does not delete a %s instance", p->name);
		return -EOPNOTSUPP;
	}
	return p->poweroff_deletes(c, id, why, why_size);
}

int provider_interruption(const struct config *c, const struct provider_identity *id, char *what,
			  size_t what_size)
{
	const struct provider_ops *p = id_row(id);

	what[0] = '\0';
	if (!p->interruption)
		return -EOPNOTSUPP;
	return p->interruption(c, what, what_size);
}

int provider_delete_once(const struct config *c, const struct provider_identity *id,
			 struct provider_result *ret)
{
	const struct provider_ops *p = id_row(id);

	*ret = (struct provider_result){0};
	if (p->method(c) != PROVIDER_METHOD_API || !p->delete_once) {
		snprintf(ret->detail, sizeof(ret->detail), "no delete API for %s", p->name);
		return -EOPNOTSUPP;
	}
	return p->delete_once(c, id, ret);
}

int provider_read_token(const char *path, const char *key, const char *label, char **ret, char *why,
			size_t why_size)
{
	const char *reason = NULL;
	char *token = NULL;
	int r;

	if (!path) {
		snprintf(why, why_size, "%s is not set", key);
		return -ENOKEY;
	}
	r = read_secret(path, &token, &reason);
	if (r < 0) {
		snprintf(why, why_size, "%s %s %s", label, path, strempty(reason));
		return r;
	}
	if (!token[0] || strpbrk(token, "\r\n \t")) {
		freezero_str(token);
		snprintf(why, why_size, "%s %s is empty or not one word", label, path);
		return -ENOKEY;
	}
	*ret = token;
	return 0;
}

void provider_body_excerpt(const struct http_response *r, char *buf, size_t size)
{
	size_t n = 0;

	if (!r->size) {
		snprintf(buf, size, "(empty answer)");
		return;
	}
	for (size_t i = 0; i < r->size && n + 1 < size && i < 120; i++)
		buf[n++] = isprint((unsigned char)r->body[i]) ? r->body[i] : '?';
	buf[n] = '\0';
}

int provider_api_send(const struct config *c, const char *api_name, const char *method,
		      const char *url, const char *auth_prefix, const char *token,
		      const char *json_body, struct http_response *resp,
		      struct provider_result *ret)
{
	_cleanup_secret_ char *auth = xasprintf("%s %s", auth_prefix, token);
	struct curl_slist *headers = NULL;
	const char *err = NULL;
	int r;

	headers = curl_slist_append(headers, auth);
	headers = curl_slist_append(headers, "Accept: application/json");
	if (json_body)
		headers = curl_slist_append(headers, "Content-Type: application/json");
	r = http_send(&(struct http_request){.method = method,
					     .url = url,
					     .headers = headers,
					     .body = json_body,
					     .timeout = c->provider_api_timeout},
		      resp, &err);
	http_headers_free_secret(headers);
	ret->http_status = resp->status;
	if (r < 0) {
		snprintf(ret->detail, sizeof(ret->detail), "no answer from the %s API: %s",
			 api_name, strempty(err));
		ret->retryable = 1;
	}
	return r;
}

int provider_api_refused(const struct http_response *resp, const char *text,
			 const char *auth_hint, const char *missing_hint,
			 struct provider_result *ret)
{
	long st = resp->status;

	snprintf(ret->detail, sizeof(ret->detail), "HTTP %ld: %s%s", st, text,
		 st == 401 || st == 403 ? auth_hint
		 : st == 404	      ? missing_hint
				      : "");
	ret->retryable = st >= 500 || st == 429 || st == 409 || st == 423;
	return st == 401 || st == 403 ? -EACCES : st == 404 ? -ENOENT : -EIO;
}

int provider_delete(const struct config *c, const struct provider_identity *id,
		    struct provider_result *ret)
{
	/* whether to retry is the cloud's answer's (ret->retryable); the
	 * waits are the shared backoff's */
	const struct http_policy p = {.attempts = 1 + (unsigned)c->provider_delete_retries,
				      .base_delay = 2 * USEC_PER_SEC,
				      .max_delay = 30 * USEC_PER_SEC};
	int tries = (int)p.attempts, r = -EIO;
	usec_t wait;

	for (int i = 0; i < tries; i++) {
		r = provider_delete_once(c, id, ret);
		ret->attempts = i + 1;
		if (r >= 0 || !ret->retryable)
			return r;
		if (i + 1 == tries)
			break;
		wait = http_backoff(&p, (unsigned)i + 1, 0);
		log_warning("Delete attempt %d of %d failed (%s), retrying in %llums: %s", i + 1,
			    tries, ret->request, (unsigned long long)(wait / USEC_PER_MSEC),
			    ret->detail);
		http_sleep(wait);
	}
	return r;
}
