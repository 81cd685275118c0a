/* Providers: the table of clouds, the shared HTTP client, detection, and
 * the delete retries; see provider.h. Each cloud's own parts are in
 * provider-<name>.c, one row each in provider_table[]. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

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
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t http_write(char *data, size_t size, size_t n, void *userdata)
{
	struct http_response *r = userdata;
	size_t len = size * n;

	if (r->size + len > HTTP_BODY_MAX)
		return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
	r->body = xrealloc(r->body, r->size + len + 1);
	memcpy(r->body + r->size, data, len);
	r->size += len;
	r->body[r->size] = '\0';
	return len;
}

static int curl_code_to_errno(CURLcode code)
{
	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_WRITE_ERROR:
		return -EFBIG;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

void http_response_done(struct http_response *r)
{
	free(r->body);
	*r = (struct http_response){0};
}

int http_send(const struct http_request *rq, struct http_response *ret, const char **err_text)
{
	long ms = (long)MAX(rq->timeout / USEC_PER_MSEC, 1);
	CURLcode code;
	CURL *h;

	*ret = (struct http_response){.body = xstrdup("")};
	*err_text = NULL;
	h = curl_easy_init();
	if (!h) {
		*err_text = "cannot set up libcurl";
		return -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_USERAGENT, "agentbox/" AGENTBOX_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, ret);
	if (rq->metadata)
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	if (rq->headers)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq->headers);
	if (streq(rq->method, "GET"))
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
		if (rq->body || !streq(rq->method, "DELETE")) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
					 (long)(rq->body ? strlen(rq->body) : 0));
		}
	}
	if (rq->sigv4) {
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, rq->sigv4);
		curl_easy_setopt(h, CURLOPT_USERNAME, rq->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, rq->password);
	}
	code = curl_easy_perform(h);
	if (code == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->status);
	curl_easy_cleanup(h);
	if (code != CURLE_OK) {
		*err_text = curl_easy_strerror(code);
		ret->status = 0;
		return curl_code_to_errno(code);
	}
	return 0;
}

void http_headers_free_secret(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		if (p->data)
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static void sleep_usec(usec_t u)
{
	struct timespec ts = {.tv_sec = (time_t)(u / USEC_PER_SEC),
			      .tv_nsec = (long)(u % USEC_PER_SEC) * 1000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int metadata_request(const struct config *c, const char *method, const char *path,
		     struct curl_slist *headers, struct http_response *ret, const char **err_text)
{
	return metadata_request_at(c, PROVIDER_METADATA_HOST, method, path, headers, ret, err_text);
}

int metadata_request_at(const struct config *c, const char *host, const char *method,
			const char *path, struct curl_slist *headers, struct http_response *ret,
			const char **err_text)
{
	_cleanup_free_ char *url = xasprintf("http://%s%s", host, path);
	struct http_request rq = {
	    .method = method,
	    .url = url,
	    .headers = headers,
	    .timeout = c->provider_metadata_timeout,
	    .metadata = 1,
	};
	int tries = 1 + (int)c->provider_metadata_retries, r = -EIO;

	for (int i = 0; i < tries; i++) {
		if (i > 0)
			sleep_usec(100 * USEC_PER_MSEC << (i - 1));
		r = http_send(&rq, ret, err_text);
		if (r == 0 && ret->status < 500)
			return 0;
		if (r == 0 && i + 1 == tries)
			return 0; /* the caller reports the 5xx */
		http_response_done(ret);
		if (r == -EFBIG)
			break;
	}
	/* nothing to free on failure: callers return at once */
	*ret = (struct http_response){0};
	return r;
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

int provider_delete(const struct config *c, const struct provider_identity *id,
		    struct provider_result *ret)
{
	int tries = 1 + (int)c->provider_delete_retries, r = -EIO;
	usec_t wait = USEC_PER_SEC;

	for (int i = 0; i < tries; i++) {
		r = provider_delete_once(c, id, ret);
		ret->attempts = i + 1;
		if (r >= 0 || !ret->retryable)
			return r;
		if (i + 1 == tries)
			break;
		log_warning("Delete attempt %d of %d failed (%s), retrying in %llus: %s", i + 1,
			    tries, ret->request, (unsigned long long)(wait / USEC_PER_SEC),
			    ret->detail);
		sleep_usec(wait);
		wait = MIN(wait * 2, 30 * USEC_PER_SEC);
	}
	return r;
}

int xml_tag_text(const char *xml, const char *tag, char *buf, size_t size)
{
	_cleanup_free_ char *open = xasprintf("<%s>", tag), *close = xasprintf("</%s>", tag);
	const char *a = strstr(xml, open), *b;
	size_t len;

	if (!a)
		return -ENOENT;
	a += strlen(open);
	b = strstr(a, close);
	if (!b)
		return -EINVAL;
	len = (size_t)(b - a);
	if (len >= size)
		len = size - 1;
	memmove(buf, a, len); /* buf may be xml itself */
	buf[len] = '\0';
	return 0;
}
