/* The instance metadata service: the one IMDSv2 client (EC2's session
 * token, cached per process and base URL until shortly before its TTL ends,
 * asked again after a 401) and plain requests to the link-local metadata
 * address for clouds without tokens. Used for EC2's identity and
 * credentials (lib/provider-ec2.c), the S3 client's instance-profile
 * credentials (lib/s3.c) and Hetzner's metadata (lib/provider-hetzner.c).
 * Requests never go through a proxy and are retried under
 * imds_policy(): timeouts, refused connections, resets and 5xx answers. */
#ifndef AGENTBOX_IMDS_H
#define AGENTBOX_IMDS_H

#include <stddef.h>
#include <time.h>

#include "http.h"

struct config;

#define IMDS_URL "http://169.254.169.254"
/* The lifetime asked for a session token, in seconds. */
#define IMDS_TOKEN_TTL 300

struct imds_options {
	const char *base_url; /* NULL: IMDS_URL */
	usec_t timeout;	      /* one attempt; 0: 2 s */
	unsigned retries;     /* attempts after the first */
};

/* The options provider.metadata_timeout and provider.metadata_retries say. */
struct imds_options imds_options_from_config(const struct config *c);
/* The retry policy of metadata requests under o. */
struct http_policy imds_policy(const struct imds_options *o);

/* A request to the metadata service at o->base_url (a cloud's own address,
 * e.g. 169.254.42.42) + path, without a token, under imds_policy(o). 0
 * with *ret filled (any status) or -errno after the last try. */
int imds_request(const struct imds_options *o, const char *method, const char *path,
		 struct curl_slist *headers, struct http_response *ret, const char **err_text);
/* A GET/PUT of the metadata service (PROVIDER_METADATA_URL) with
 * provider.metadata_retries retries after timeouts, refused connections
 * and 5xx answers. 0 with *ret filled (any status) or -errno after the
 * last try. */
int metadata_request(const struct config *c, const char *method, const char *path,
		     struct curl_slist *headers, struct http_response *ret, const char **err_text);

/* The IMDSv2 session token (PUT /latest/api/token), from the cache when it
 * has a minute left. 0 with a copy in *ret (a secret: freezero it), or
 * -errno: -EBADMSG when the service answered but gave no token, with its
 * status in *ret_status (0 when nothing answered). */
int imds_token(const struct imds_options *o, char **ret, long *ret_status, const char **err_text);
/* Same, with why[] saying what failed ("EC2 IMDSv2 token: HTTP 403"). */
int imds_token_why(const struct imds_options *o, char **ret, long *ret_status, char *why,
		   size_t why_size);
/* Forgets every cached token (tests; after a refusal). */
void imds_token_forget(void);
/* GET of path ("/latest/meta-data/...") with the session token; a 401
 * drops the token and the GET is made once more with a new one. 0 with
 * *ret (any status), or -errno (*err_text says what). */
int imds_get(const struct imds_options *o, const char *path, struct http_response *ret,
	     const char **err_text);

/* imds_get() of a text value: 0 with a 200 answer, trailing blanks cut,
 * not empty; -ENOENT on 404, -EBADMSG on other answers and malformed ones,
 * or the transport's -errno; why[] says which ("EC2 metadata PATH: ..."). */
int imds_get_text(const struct imds_options *o, const char *path, struct http_response *resp,
		  char *why, size_t why_size);

/* An instance profile's temporary credentials. */
struct ec2_credentials {
	char *access_key_id;
	char *secret_access_key; /* secret */
	char *token;		 /* secret */
	time_t expires;		 /* 0: not said */
};
void ec2_credentials_done(struct ec2_credentials *k);
/* Parses IMDS's security-credentials/<role> document into *ret; -EBADMSG
 * (why[] filled) when it lacks a key, secret or token, or says no Success. */
int ec2_credentials_parse(const char *body, const char *role, struct ec2_credentials *ret,
			  char *why, size_t why_size);
/* The credentials of the role attached to this instance: the role's name,
 * then its document. -ENOENT when no role is attached, -EBADMSG when an
 * answer is malformed, or the transport's -errno; why[] says which. */
int imds_role_credentials(const struct imds_options *o, struct ec2_credentials *ret, char *why,
			  size_t why_size);

#endif
