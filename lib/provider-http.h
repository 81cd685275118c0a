/* The small HTTP client the providers share (libcurl, one request at a
 * time, bounded answers). Internal to lib/provider*.c. */
#ifndef AGENTBOX_PROVIDER_HTTP_H
#define AGENTBOX_PROVIDER_HTTP_H

#include <stddef.h>

#include <curl/curl.h>

#include "time-util.h"

struct config;
struct provider_identity;

#define HTTP_BODY_MAX (1024 * 1024)

struct http_request {
	const char *method; /* "GET", "PUT", "POST", "DELETE" */
	const char *url;
	struct curl_slist *headers;
	const char *body; /* NULL: none */
	usec_t timeout;
	int metadata;	      /* the link-local metadata service: never through a proxy */
	const char *sigv4;    /* "aws:amz:<region>:ec2" to sign, or NULL */
	const char *username; /* SigV4 access key id */
	const char *password; /* SigV4 secret key (a secret) */
};

struct http_response {
	long status; /* 0 until an answer came */
	char *body;  /* NUL-terminated, possibly empty */
	size_t size;
};

/* Sends one request. 0 when an HTTP answer came (whatever its status), or
 * -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -EFBIG (answer too big), -EIO;
 * *err_text (static or curl's) says what. */
int http_send(const struct http_request *rq, struct http_response *ret, const char **err_text);
void http_response_done(struct http_response *r);

/* metadata_request() of the metadata service at host (a link-local
 * address: Scaleway's is not 169.254.169.254). */
int metadata_request_at(const struct config *c, const char *host, const char *method,
			const char *path, struct curl_slist *headers, struct http_response *ret,
			const char **err_text);

/* A GET/PUT of the metadata service with provider.metadata_retries
 * retries after timeouts, refused connections and 5xx answers. 0 with
 * *ret filled (any status) or -errno after the last try. */
int metadata_request(const struct config *c, const char *method, const char *path,
		     struct curl_slist *headers, struct http_response *ret, const char **err_text);

/* Frees a header list whose entries may hold secrets, zeroing them first. */
void http_headers_free_secret(struct curl_slist *h);

/* Copies a short printable value (no control characters, at most size-1
 * bytes); -EINVAL when it is empty, too long or not printable. */
int copy_printable(char *dst, size_t size, const char *src, size_t len);

/* The rows of the provider table, one per lib/provider-<name>.c. */
extern const struct provider_ops provider_hetzner;
extern const struct provider_ops provider_ec2;
extern const struct provider_ops provider_scaleway;
extern const struct provider_ops provider_digitalocean;
extern const struct provider_ops provider_none;

/* Reads a one-word API token from a secret file (0600) named by the
 * config key; -ENOKEY or -errno with why[] saying "<label> <path> ...". */
int provider_read_token(const char *path, const char *key, const char *label, char **ret,
			char *why, size_t why_size);
/* The copy of an answer's body that fits in a log line. */
void provider_body_excerpt(const struct http_response *r, char *buf, size_t size);

/* Reads the action object of a Hetzner answer: 0 when running or success,
 * -EIO when it failed, -EBADMSG for anything else; detail[] says which. */
int hetzner_action_state(const char *body, char *id_buf, size_t id_size, char *detail,
			 size_t detail_size);

struct ec2_credentials {
	char *access_key_id;
	char *secret_access_key; /* secret */
	char *token;		 /* secret */
};
void ec2_credentials_done(struct ec2_credentials *k);
/* Parses IMDS's security-credentials/<role> document into *ret; -EBADMSG
 * (why[] filled) when it lacks a key, secret or token, or says no Success. */
int ec2_credentials_parse(const char *body, const char *role, struct ec2_credentials *ret,
			  char *why, size_t why_size);
/* Checks the instance-identity document against the instance-id and region
 * already in *id (read separately) and fills its zone and account; -EBADMSG
 * or -ESTALE (why[] filled) when it is malformed or disagrees. */
int ec2_identity_document_check(const char *body, struct provider_identity *id, char *why,
				size_t why_size);
/* The EC2 Query API endpoint: provider.ec2.api_url or the region's. */
char *ec2_endpoint(const struct config *c, const struct provider_identity *id);
/* Asks for an IMDSv2 token (PUT /latest/api/token). Status in *ret_status. */
int ec2_imds_token(const struct config *c, char **ret, long *ret_status, char *why,
		   size_t why_size);

#endif
