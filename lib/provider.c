/* Providers: detection and the delete retries; see provider.h. Requests
 * go through lib/http.c, metadata through lib/imds.c. Hetzner's and EC2's own parts are in provider-hetzner.c
 * and provider-ec2.c. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "provider-http.h"
#include "provider.h"
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

int provider_detect(const struct config *c, struct provider_identity *ret, char *why,
		    size_t why_size)
{
	_cleanup_secret_ char *token = NULL;
	struct http_response resp = {0};
	const char *err = NULL;
	long status = 0;
	int r;

	*ret = (struct provider_identity){.kind = c->provider_name};
	why[0] = '\0';
	switch (c->provider_name) {
	case PROVIDER_NONE:
		return 0;
	case PROVIDER_HETZNER:
		return hetzner_identity(c, ret, why, why_size);
	case PROVIDER_EC2:
		return ec2_identity(c, ret, why, why_size);
	}

	/* auto: Hetzner's path answers 404 on EC2, and EC2's token PUT is
	 * not Hetzner's; a service that answers neither is not trusted. */
	r = metadata_request(c, "GET", "/hetzner/v1/metadata/instance-id", NULL, &resp, &err);
	status = resp.status;
	http_response_done(&resp);
	if (r < 0) {
		snprintf(why, why_size,
			 "no metadata service answered at %s (%s after %d tries of %llums)",
			 PROVIDER_METADATA_HOST, strempty(err),
			 1 + (int)c->provider_metadata_retries,
			 (unsigned long long)(c->provider_metadata_timeout / USEC_PER_MSEC));
		return r;
	}
	if (status == 200)
		return hetzner_identity(c, ret, why, why_size);
	r = ec2_imds_token(c, &token, &status, why, why_size);
	if (r >= 0 || status == 200)
		return ec2_identity(c, ret, why, why_size);
	if (status)
		snprintf(why, why_size,
			 "the metadata service at %s is neither Hetzner's nor EC2's "
			 "(HTTP %ld for both)",
			 PROVIDER_METADATA_HOST, status);
	return -ENXIO;
}






int provider_check_ready(const struct config *c, const struct provider_identity *id, char *why,
			 size_t why_size)
{
	why[0] = '\0';
	if (id->kind == PROVIDER_HETZNER)
		return hetzner_check_token(c, why, why_size);
	if (id->kind == PROVIDER_EC2 && c->provider_ec2_terminate == EC2_TERMINATE_API)
		return ec2_check_credentials(c, why, why_size);
	return 0;
}

int provider_delete_once(const struct config *c, const struct provider_identity *id,
			 struct provider_result *ret)
{
	*ret = (struct provider_result){0};
	if (id->kind == PROVIDER_HETZNER)
		return hetzner_delete(c, id, ret);
	if (id->kind == PROVIDER_EC2 && c->provider_ec2_terminate == EC2_TERMINATE_API)
		return ec2_terminate(c, id, ret);
	snprintf(ret->detail, sizeof(ret->detail), "no delete API for %s",
		 provider_kind_to_string(id->kind));
	return -EOPNOTSUPP;
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
