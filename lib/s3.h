/* A small S3 client on libcurl (CURLOPT_AWS_SIGV4) for AWS S3, Cloudflare
 * R2, Hetzner Object Storage and any other S3-compatible endpoint.
 *
 * Every call returns 0 or -errno. On failure the client keeps one line,
 * s3_last_error(), naming the operation, bucket, key, HTTP status and the
 * S3 error code ("PUT s3://b/k: HTTP 403 SignatureDoesNotMatch: ...").
 * Errors map to: -ENOENT (NoSuchKey, 404), -EACCES (403), -ENXIO
 * (NoSuchBucket), -EIO (other failures), -ETIMEDOUT, -ECONNREFUSED.
 *
 * Requests go through lib/http.c, retried under one policy (s3_policy()):
 * exponential backoff with jitter on timeouts, connection errors, 5xx,
 * SlowDown, RequestTimeout, 429 and 408; never on other 4xx but BadDigest
 * and XAmzContentSHA256Mismatch (damaged on the way).
 * Every request carries the real SHA-256 of its payload in
 * x-amz-content-sha256 (libcurl 7.88 would sign an upload as empty), and
 * every PUT its Content-MD5, which every S3 store checks. */
#ifndef AGENTBOX_S3_H
#define AGENTBOX_S3_H

#include <stddef.h>
#include <stdint.h>

#define S3_MIN_PART_SIZE (5ULL * 1024 * 1024)
#define S3_DEFAULT_PART_SIZE (8ULL * 1024 * 1024)
#define S3_MAX_PARTS 10000
#define S3_SHA256_HEX_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_client;
struct s3_upload;

struct s3_object_info {
	uint64_t size;
	char etag[80];
};

/* Consumes downloaded bytes; returns 0 or -errno to stop the transfer. */
typedef int (*s3_write_fn)(const void *data, size_t size, void *userdata);
/* Called for each key of a LIST; returns 0 to go on, or -errno to stop. */
typedef int (*s3_list_fn)(const char *key, uint64_t size, void *userdata);

/* A client for one bucket. endpoint is "https://host[:port]" (no scheme
 * means https; NULL means AWS's "https://s3.<region>.amazonaws.com");
 * region is what goes into the signature ("auto" for R2). */
struct s3_client *s3_client_new(const char *endpoint, const char *region, const char *bucket,
				int path_style);
struct s3_client *s3_client_free(struct s3_client *s);
static inline void s3_client_freep(struct s3_client **s)
{
	s3_client_free(*s);
}

/* Sets the credentials (copied; freed with zeroing). token may be NULL. */
void s3_client_set_credentials(struct s3_client *s, const char *access_key, const char *secret_key,
			       const char *token);

/* Reads an AWS shared-credentials file (read_secret(): 0600) and takes the
 * [profile] section (NULL: $AWS_PROFILE or "default"). On failure returns
 * -errno and *ret_why (static text) says what is wrong. */
int s3_client_load_credentials(struct s3_client *s, const char *path, const char *profile,
			       const char **ret_why);

/* Takes the instance-profile credentials of an EC2 instance through IMDSv2
 * (lib/imds.c: a token first, then the role's credentials; never through a
 * proxy) and refreshes them 5 minutes before they expire. base_url NULL:
 * the metadata address. On failure *ret_why says what is missing (valid
 * until this thread's next call). */
#define S3_IMDS_URL "http://169.254.169.254"
int s3_client_load_imds(struct s3_client *s, const char *base_url, const char **ret_why);

/* Retry policy: attempts in all (>= 1) and the first backoff in ms. */
void s3_client_set_retry(struct s3_client *s, unsigned attempts, unsigned base_delay_ms);

/* Keys per LIST page (0: the server's default); for tests of continuation. */
void s3_client_set_list_page(struct s3_client *s, unsigned max_keys);

/* The last error line (never NULL; "" when none). */
const char *s3_last_error(const struct s3_client *s);

/* The URL of key ("" key: the bucket), for logs and tests. */
char *s3_url(const struct s3_client *s, const char *key, const char *query);

int s3_put(struct s3_client *s, const char *key, const void *data, size_t size,
	   const char *content_type);
/* A conditional PUT: if_match (an ETag, quoted or not) or if_none_match
 * ("*"), either may be NULL; -EEXIST when the condition failed (412). A 412
 * on If-Match while HEAD still shows that ETag is the server refusing our
 * form of it (RGW 16 takes only the bare form): the PUT is repeated once in
 * the other form, which is then used for that endpoint. */
int s3_put_if(struct s3_client *s, const char *key, const void *data, size_t size,
	      const char *content_type, const char *if_match, const char *if_none_match);
/* Streams an object into cb; a retry after partial data resumes with a
 * Range request, so cb sees every byte once. *ret_size may be NULL. */
int s3_get(struct s3_client *s, const char *key, s3_write_fn cb, void *userdata,
	   uint64_t *ret_size);
/* Reads a small object (at most max bytes) into a NUL-terminated buffer. */
int s3_get_buffer(struct s3_client *s, const char *key, size_t max, char **ret, size_t *ret_size);
/* Same, and the object's ETag into etag. */
int s3_get_buffer_etag(struct s3_client *s, const char *key, size_t max, char **ret,
		       size_t *ret_size, char etag[80]);
int s3_head(struct s3_client *s, const char *key, struct s3_object_info *ret);
/* Lists every key under prefix (ListObjectsV2, following continuation). */
int s3_list(struct s3_client *s, const char *prefix, s3_list_fn cb, void *userdata);
/* Deletes a key; a missing key is success. */
int s3_delete(struct s3_client *s, const char *key);

/* A streamed upload of unknown length: bytes go into a part buffer of
 * part_size; full parts go up as multipart parts, each with its real
 * SHA-256 and retried on its own; all non-final parts have the same size.
 * An upload that fits one part becomes a single PUT. */
uint64_t s3_part_size_for(uint64_t expected_size);
int s3_upload_begin(struct s3_client *s, const char *key, uint64_t part_size,
		    struct s3_upload **ret);
int s3_upload_write(struct s3_upload *u, const void *data, size_t size);
/* Sends the rest and completes; the object then exists. */
int s3_upload_finish(struct s3_upload *u);
/* Aborts an unfinished multipart upload (server side too) and frees u. */
struct s3_upload *s3_upload_free(struct s3_upload *u);
static inline void s3_upload_freep(struct s3_upload **u)
{
	s3_upload_free(*u);
}
uint64_t s3_upload_bytes(const struct s3_upload *u);
/* The stored object's ETag once s3_upload_finish() succeeded ("" before). */
const char *s3_upload_etag(const struct s3_upload *u);

/* Percent-encodes per SigV4 (unreserved kept; '/' kept when keep_slash). */
char *s3_uri_encode(const char *s, int keep_slash);

/* SHA-256 helpers (OpenSSL EVP). */
struct sha256_ctx;
struct sha256_ctx *sha256_new(void);
void sha256_update(struct sha256_ctx *h, const void *data, size_t size);
/* Writes 64 hex digits and a NUL into hex, and frees h. */
void sha256_finish_hex(struct sha256_ctx *h, char hex[65]);
void sha256_hex(const void *data, size_t size, char hex[65]);

#endif
