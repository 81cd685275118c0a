/* A Docker Engine API client over the daemon's unix socket, on libcurl.
 *
 * docker_open() negotiates the API version (GET /_ping, GET /version):
 * every later request is sent as /v<version>/..., the lower of the
 * daemon's version and ours. Each request uses its own curl handle, so one
 * struct docker may serve two threads at once. Requests go through
 * lib/http.c. Every function returns 0 or -errno; libcurl's codes are
 * converted in one place (http_errno()). Functions that can fail for a reason the
 * daemon explains hand that one line out in *ret_error. */
#ifndef AGENTBOX_DOCKER_H
#define AGENTBOX_DOCKER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "time-util.h"

#define DOCKER_DEFAULT_HOST "/var/run/docker.sock"
/* The newest API we speak, and the oldest with what we use. */
#define DOCKER_API_MAX "1.43"
#define DOCKER_API_MIN "1.25"

struct docker;

/* Opens a client for host ("/path/docker.sock" or "unix:///path"), pings
 * the daemon and negotiates the API version. -ENOENT/-ECONNREFUSED/-EACCES
 * when the socket cannot be reached, -EPROTONOSUPPORT when the daemon is
 * too old; *ret_error says so in words. */
int docker_open(const char *host, struct docker **ret, char **ret_error);
struct docker *docker_free(struct docker *d);
static inline void docker_freep(struct docker **d)
{
	docker_free(*d);
}

/* The negotiated API version ("1.41") and the daemon's version. */
const char *docker_api_version(const struct docker *d);
const char *docker_server_version(const struct docker *d);
/* The socket path. */
const char *docker_host(const struct docker *d);

/* Progress of a pull, recomputed from each line of the daemon's stream. */
struct docker_pull_progress {
	unsigned layers;      /* layers the image has (seen so far) */
	unsigned layers_done; /* pulled, or already present */
	uint64_t bytes_done;  /* downloaded bytes of the layers being pulled */
	uint64_t bytes_total; /* their sizes, as far as known */
	double speed;	      /* bytes per second since the pull began */
	usec_t elapsed;
	int layer_finished; /* this line finished a layer */
	const char *status; /* the line's status text */
	/* set only on the call made before a retry: */
	const char *retry_error; /* why the attempt failed */
	usec_t retry_in;	 /* the wait before the next attempt */
	unsigned attempt;	 /* the attempt that failed (1 = the first) */
};

typedef void (*docker_progress_fn)(const struct docker_pull_progress *p, void *userdata);

struct docker_pull_result {
	char digest[80]; /* "sha256:..." from the stream, "" when not given */
	unsigned layers;
	uint64_t bytes; /* bytes downloaded */
	usec_t duration;
	unsigned attempts;
};

/* Pulls image ("name[:tag]" or "name@sha256:..."). registry_auth is the
 * JSON credential object ({"username":..,"password":..}) or NULL; it is
 * sent base64url-encoded as X-Registry-Auth and never logged. Transient
 * failures (registry unreachable, 5xx, timeouts) are retried up to
 * retries times with doubling backoff starting at backoff. Errors:
 * -ENOENT unknown image, -EACCES unauthorized, -EHOSTUNREACH registry
 * unreachable, -ENOSPC no space left, -EIO other; *ret_error holds the
 * daemon's words. */
int docker_image_pull(struct docker *d, const char *image, const char *registry_auth,
		      unsigned retries, usec_t backoff, docker_progress_fn fn, void *userdata,
		      struct docker_pull_result *ret, char **ret_error);

/* GET /images/<name>/json. -ENOENT when absent. */
int docker_image_inspect(struct docker *d, const char *image, cJSON **ret);

/* GET /containers/<name>/json. -ENOENT when absent. */
int docker_container_inspect(struct docker *d, const char *name, cJSON **ret);

/* GET /containers/json?all=1 with a label filter ("key=value" or "key"):
 * the JSON array of containers. */
int docker_container_list(struct docker *d, const char *label, cJSON **ret);

/* POST /containers/create?name=<name> with spec. -EEXIST when the name is
 * taken, -ENOENT when the image is absent; *ret_id the new id. */
int docker_container_create(struct docker *d, const char *name, const cJSON *spec, char **ret_id,
			    char **ret_error);

/* POST /containers/<id>/start; 0 also when it already runs. */
int docker_container_start(struct docker *d, const char *id, char **ret_error);

/* POST /containers/<id>/stop?t=<timeout_sec>; 0 also when it is stopped
 * already, -ENOENT when absent. */
int docker_container_stop(struct docker *d, const char *id, unsigned timeout_sec);

/* DELETE /containers/<id>?force=1&v=<volumes>. -ENOENT when absent. */
int docker_container_remove(struct docker *d, const char *id, int force);

/* One request with a JSON body (or none) to path (unversioned part,
 * "/exec/<id>/resize?h=1&w=2"; the caller escapes what it puts there).
 * 0 for a 2xx answer, its JSON body (if any and ret_json) in *ret_json;
 * -ENOENT (404), -EBUSY (409, e.g. the container is not running), -EINVAL
 * (400), -EIO (other) with the daemon's words in *ret_error, or the
 * connection's -errno. */
int docker_request(struct docker *d, const char *method, const char *path, const cJSON *body,
		   cJSON **ret_json, char **ret_error);

/* Splits "registry/name:tag" into fromImage and tag for /images/create
 * ("busybox" -> "busybox", "latest"; "a@sha256:x" -> "a@sha256:x", "").
 * Returns -EINVAL for an empty name. */
int docker_image_split(const char *image, char **ret_name, char **ret_tag);

/* Classifies a daemon error message of a pull: -ENOENT, -EACCES,
 * -EHOSTUNREACH, -ENOSPC, -EAGAIN (transient, retry) or -EIO. */
int docker_pull_error_class(const char *message);

/* base64url (RFC 4648 §5, with padding), as the daemon wants it. */
char *docker_base64url(const void *data, size_t size);

/* Converts a libcurl code to -errno: http_errno(), kept for callers. */
int docker_curl_code_to_errno(int code);

#endif
