/* Docker Engine API client; see docker.h.
 *
 * The pull stream (POST /images/create) is one JSON object a line:
 *   {"status":"Pulling fs layer","progressDetail":{},"id":"f5674a7210b9"}
 *   {"status":"Downloading","progressDetail":{"current":36445,"total":1064565},"id":..}
 *   {"status":"Pull complete","progressDetail":{},"id":"f5674a7210b9"}
 *   {"status":"Digest: sha256:5b1c..."}
 *   {"errorDetail":{"message":"..."},"error":"..."}   (a failure mid-stream)
 * Lines are reassembled across reads, each is parsed alone, and the
 * per-layer state turns into struct docker_pull_progress. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "docker-internal.h"
#include "docker.h"
#include "http.h"
#include "macro.h"

#define DOCKER_BODY_MAX (16 * 1024 * 1024)
#define DOCKER_LINE_MAX (256 * 1024)
#define DOCKER_TIMEOUT_SEC 120L

struct docker {
	char *socket;
	char *api;
	char *server_version;
};

struct buf {
	char *data;
	size_t size;
};

static void buf_done(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->size = 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

int docker_curl_code_to_errno(int code)
{
	return http_errno((CURLcode)code);
}

/* Takes an answer's body into b. */
static void buf_take(struct buf *b, struct http_response *resp)
{
	b->data = resp->size ? TAKE_PTR(resp->body) : NULL;
	b->size = b->data ? resp->size : 0;
	http_response_done(resp);
}

/* A request to the daemon's socket: path is "/_ping", or versioned once the
 * API is known. */
static struct http_request docker_http_request(const struct docker *d, const char *method,
					       const char *url)
{
	return (struct http_request){
	    .method = method,
	    .url = url,
	    .unix_socket = d->socket,
	    .connect_timeout = 10 * USEC_PER_SEC,
	    .body_max = DOCKER_BODY_MAX,
	};
}

static char *docker_url(const struct docker *d, const char *path, int versioned)
{
	if (versioned && d->api)
		return xasprintf("http://docker/v%s%s", d->api, path);
	return xasprintf("http://docker%s", path);
}

/* One request with a JSON (or no) body; the response body in *ret_body.
 * Returns 0 with the HTTP status in *ret_status, or -errno when the
 * daemon could not be talked to. */
static int docker_call(const struct docker *d, const char *method, const char *path,
		       const char *body, long *ret_status, struct buf *ret_body)
{
	_cleanup_free_ char *url = docker_url(d, path, 1);
	struct curl_slist *h = NULL;
	struct http_request rq = docker_http_request(d, method, url);
	struct http_response resp;
	const char *err;
	int r;

	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	rq.headers = h;
	rq.body = body;
	rq.timeout = DOCKER_TIMEOUT_SEC * USEC_PER_SEC;
	r = http_send(&rq, &resp, &err);
	curl_slist_free_all(h);
	if (r < 0) {
		http_response_done(&resp);
		return r;
	}
	*ret_status = resp.status;
	buf_take(ret_body, &resp);
	return 0;
}

/* The daemon's {"message": "..."} of an error body, or the body itself. */
static char *docker_error_message(const struct buf *b, long status)
{
	_cleanup_(cJSON_Deletep) cJSON *j = b->data ? cJSON_Parse(b->data) : NULL;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
	char *s;

	if (cJSON_IsString(m))
		s = xstrdup(m->valuestring);
	else if (b->data && b->size)
		s = xstrdup(b->data);
	else
		s = xasprintf("HTTP status %ld", status);
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return s;
}

static void ping_header(const char *name, const char *value, void *userdata)
{
	char **api = userdata;

	if (strcasecmp(name, "Api-Version") == 0 && !*api)
		*api = xstrdup(value);
}

/* "1.41" -> 141; 0 when not a version. */
static unsigned api_number(const char *v)
{
	unsigned major, minor;

	if (!v || sscanf(v, "%u.%u", &major, &minor) != 2)
		return 0;
	return major * 100 + minor;
}

static const char *socket_path(const char *host)
{
	if (startswith(host, "unix://"))
		return host + strlen("unix://");
	return host;
}

int docker_open(const char *host, struct docker **ret, char **ret_error)
{
	_cleanup_(docker_freep) struct docker *d = xcalloc(1, sizeof(*d));
	_cleanup_(cJSON_Deletep) cJSON *v = NULL;
	_cleanup_free_ char *ping_api = NULL, *url = NULL;
	struct http_response resp;
	struct http_request rq;
	struct buf body = {0};
	const cJSON *api, *minapi, *ver;
	unsigned ours = api_number(DOCKER_API_MAX), theirs;
	const char *err;
	long status = 0;
	int r;

	*ret_error = NULL;
	host = host && *host ? host : DOCKER_DEFAULT_HOST;
	if (startswith(host, "tcp://") || startswith(host, "http")) {
		*ret_error = xasprintf("%s: only unix sockets are supported", host);
		return -EPROTONOSUPPORT;
	}
	d->socket = xstrdup(socket_path(host));
	if (access(d->socket, F_OK) < 0) {
		r = -errno;
		*ret_error = xasprintf("Cannot reach the Docker daemon: %s: %s; is docker "
				       "installed and running (systemctl start docker)?",
				       d->socket, strerror(errno));
		return r;
	}

	url = docker_url(d, "/_ping", 0);
	rq = docker_http_request(d, "GET", url);
	rq.header = ping_header;
	rq.header_userdata = &ping_api;
	rq.timeout = 30 * USEC_PER_SEC;
	r = http_send(&rq, &resp, &err);
	status = resp.status;
	http_response_done(&resp);
	if (r < 0) {
		*ret_error = xasprintf("Cannot reach the Docker daemon at %s: %s; is docker "
				       "running (systemctl start docker)?",
				       d->socket, strempty(err));
		return r;
	}
	if (status != 200) {
		*ret_error = xasprintf("The Docker daemon at %s answered /_ping with HTTP %ld; "
				       "it is not healthy (journalctl -u docker)",
				       d->socket, status);
		return -EIO;
	}

	r = docker_call(d, "GET", "/version", NULL, &status, &body);
	if (r < 0 || status != 200) {
		buf_done(&body);
		*ret_error = xasprintf("The Docker daemon at %s did not answer /version (%s)",
				       d->socket, r < 0 ? strerror(-r) : "bad status");
		return r < 0 ? r : -EIO;
	}
	v = cJSON_Parse(body.data);
	buf_done(&body);
	api = cJSON_GetObjectItemCaseSensitive(v, "ApiVersion");
	minapi = cJSON_GetObjectItemCaseSensitive(v, "MinAPIVersion");
	ver = cJSON_GetObjectItemCaseSensitive(v, "Version");
	theirs = api_number(cJSON_IsString(api) ? api->valuestring : ping_api);
	if (theirs == 0) {
		*ret_error = xasprintf("The Docker daemon at %s gave no API version", d->socket);
		return -EPROTO;
	}
	if (theirs < api_number(DOCKER_API_MIN) ||
	    (cJSON_IsString(minapi) && api_number(minapi->valuestring) > ours)) {
		*ret_error = xasprintf("The Docker daemon at %s speaks API %s, we need %s to %s; "
				       "upgrade docker",
				       d->socket, cJSON_IsString(api) ? api->valuestring : "?",
				       DOCKER_API_MIN, DOCKER_API_MAX);
		return -EPROTONOSUPPORT;
	}
	theirs = MIN(theirs, ours);
	d->api = xasprintf("%u.%u", theirs / 100, theirs % 100);
	d->server_version = xstrdup(cJSON_IsString(ver) ? ver->valuestring : "unknown");
	*ret = TAKE_PTR(d);
	return 0;
}

struct docker *docker_free(struct docker *d)
{
	if (!d)
		return NULL;
	free(d->socket);
	free(d->api);
	free(d->server_version);
	free(d);
	return NULL;
}

const char *docker_api_version(const struct docker *d)
{
	return d->api;
}

const char *docker_server_version(const struct docker *d)
{
	return d->server_version;
}

const char *docker_host(const struct docker *d)
{
	return d->socket;
}

char *docker_base64url(const void *data, size_t size)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	char *out = xmalloc((size + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < size; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < size)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < size)
			v |= p[i + 2];
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < size ? tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < size ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

int docker_image_split(const char *image, char **ret_name, char **ret_tag)
{
	const char *at, *slash, *colon;

	if (!image || !*image)
		return -EINVAL;
	at = strchr(image, '@');
	if (at) {
		*ret_name = xstrdup(image);
		*ret_tag = xstrdup("");
		return 0;
	}
	/* a colon after the last slash is the tag; one before is a port */
	slash = strrchr(image, '/');
	colon = strrchr(image, ':');
	if (colon && (!slash || colon > slash) && colon[1]) {
		*ret_name = strndup(image, (size_t)(colon - image));
		*ret_tag = xstrdup(colon + 1);
	} else {
		*ret_name = xstrdup(image);
		*ret_tag = xstrdup("latest");
	}
	return 0;
}

static int contains_ci(const char *s, const char *what)
{
	return strcasestr(s, what) != NULL;
}

int docker_pull_error_class(const char *m)
{
	static const char *const space[] = {"no space left on device", NULL};
	static const char *const auth[] = {"unauthorized",
					   "authentication required",
					   "no basic auth credentials",
					   "incorrect username or password",
					   "access denied",
					   "denied:",
					   NULL};
	static const char *const missing[] = {"manifest unknown",
					      "not found",
					      "does not exist",
					      "name unknown",
					      "invalid reference format",
					      "repository name must",
					      NULL};
	static const char *const unreachable[] = {"connection refused",
						  "no such host",
						  "network is unreachable",
						  "no route to host",
						  "i/o timeout",
						  "timeout",
						  "dial tcp",
						  NULL};
	static const char *const transient[] = {"connection reset",
						"eof",
						"tls handshake",
						"too many requests",
						"toomanyrequests",
						"502",
						"503",
						"504",
						"service unavailable",
						"bad gateway",
						"internal server error",
						NULL};
	if (!m)
		return -EIO;
	for (int i = 0; space[i]; i++)
		if (contains_ci(m, space[i]))
			return -ENOSPC;
	for (int i = 0; auth[i]; i++)
		if (contains_ci(m, auth[i]))
			return -EACCES;
	for (int i = 0; missing[i]; i++)
		if (contains_ci(m, missing[i]))
			return -ENOENT;
	for (int i = 0; unreachable[i]; i++)
		if (contains_ci(m, unreachable[i]))
			return -EHOSTUNREACH;
	for (int i = 0; transient[i]; i++)
		if (contains_ci(m, transient[i]))
			return -EAGAIN;
	return -EIO;
}

struct layer {
	char id[72];
	uint64_t current, total;
	int done;
};

struct pull_state {
	struct buf line;
	struct layer *layers;
	size_t n_layers;
	char *error;
	char digest[80];
	usec_t start;
	docker_progress_fn fn;
	void *userdata;
};

static struct layer *pull_layer(struct pull_state *s, const char *id)
{
	for (size_t i = 0; i < s->n_layers; i++)
		if (streq(s->layers[i].id, id))
			return &s->layers[i];
	s->layers = xrealloc(s->layers, (s->n_layers + 1) * sizeof(struct layer));
	memset(&s->layers[s->n_layers], 0, sizeof(struct layer));
	snprintf(s->layers[s->n_layers].id, sizeof(s->layers[0].id), "%s", id);
	return &s->layers[s->n_layers++];
}

static void pull_progress_compute(const struct pull_state *s, struct docker_pull_progress *p)
{
	usec_t now = now_usec(CLOCK_MONOTONIC);

	p->layers = (unsigned)s->n_layers;
	for (size_t i = 0; i < s->n_layers; i++) {
		p->layers_done += s->layers[i].done;
		p->bytes_done += s->layers[i].current;
		p->bytes_total += s->layers[i].total;
	}
	p->elapsed = now - s->start;
	p->speed = p->elapsed > 0 ? (double)p->bytes_done * 1e6 / (double)p->elapsed : 0;
}

/* Handles one line of the stream. */
static void pull_line(struct pull_state *s, const char *text)
{
	_cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(text);
	const cJSON *status, *id, *detail, *err, *msg;
	struct docker_pull_progress p = {0};
	struct layer *l;
	const char *st;

	if (!j)
		return;
	err = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (cJSON_IsString(err)) {
		if (!s->error)
			s->error = xstrdup(err->valuestring);
		return;
	}
	status = cJSON_GetObjectItemCaseSensitive(j, "status");
	msg = cJSON_GetObjectItemCaseSensitive(j, "message");
	if (!status && cJSON_IsString(msg)) { /* an error response's body */
		if (!s->error)
			s->error = xstrdup(msg->valuestring);
		return;
	}
	if (!cJSON_IsString(status))
		return;
	st = status->valuestring;
	if (startswith(st, "Digest: ")) {
		snprintf(s->digest, sizeof(s->digest), "%s", st + strlen("Digest: "));
		return;
	}
	id = cJSON_GetObjectItemCaseSensitive(j, "id");
	detail = cJSON_GetObjectItemCaseSensitive(j, "progressDetail");
	if (!cJSON_IsString(id) || !cJSON_IsObject(detail))
		return; /* "Pulling from ...", "Status: ..." */

	l = pull_layer(s, id->valuestring);
	if (streq(st, "Downloading")) {
		const cJSON *cur = cJSON_GetObjectItemCaseSensitive(detail, "current");
		const cJSON *tot = cJSON_GetObjectItemCaseSensitive(detail, "total");
		/* below 2^64: converting a larger double is undefined */
		if (cJSON_IsNumber(cur) && cur->valuedouble >= 0 && cur->valuedouble < 0x1p64)
			l->current = (uint64_t)cur->valuedouble;
		if (cJSON_IsNumber(tot) && tot->valuedouble > 0 && tot->valuedouble < 0x1p64)
			l->total = (uint64_t)tot->valuedouble;
	} else if (streq(st, "Download complete") || streq(st, "Verifying Checksum")) {
		if (l->total)
			l->current = l->total;
	} else if (streq(st, "Pull complete") || streq(st, "Already exists")) {
		if (l->total)
			l->current = l->total;
		p.layer_finished = !l->done;
		l->done = 1;
	}
	if (!s->fn)
		return;
	pull_progress_compute(s, &p);
	p.status = st;
	s->fn(&p, s->userdata);
}

/* Takes the stream's bytes, a line at a time; -EMSGSIZE for a line over
 * DOCKER_LINE_MAX. */
static int pull_write(const void *data, size_t len, void *userdata)
{
	struct pull_state *s = userdata;
	const char *p = data;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			if (s->line.size) {
				pull_line(s, s->line.data);
				s->line.size = 0;
				s->line.data[0] = '\0';
			}
			continue;
		}
		if (s->line.size >= DOCKER_LINE_MAX)
			return -EMSGSIZE;
		s->line.data = xrealloc(s->line.data, s->line.size + 2);
		s->line.data[s->line.size++] = p[i];
		s->line.data[s->line.size] = '\0';
	}
	return 0;
}

/* Escapes one path or query component. */
static char *escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *r;

	if (!e)
		return xstrdup("");
	r = xstrdup(e);
	curl_free(e);
	return r;
}

/* One attempt: 0, or -errno with *ret_error. */
static int pull_once(struct docker *d, const char *name, const char *tag, const char *auth,
		     struct pull_state *s, char **ret_error)
{
	_cleanup_free_ char *url = NULL, *ename = escape(name), *etag = escape(tag);
	_cleanup_secret_ char *hdr = NULL;
	struct curl_slist *h = NULL;
	struct http_response resp;
	struct http_request rq;
	const char *err;
	long status;
	int r;

	url = xasprintf("http://docker/v%s/images/create?fromImage=%s%s%s", d->api, ename,
			*tag ? "&tag=" : "", *tag ? etag : "");
	rq = docker_http_request(d, "POST", url);
	if (auth) {
		hdr = xasprintf("X-Registry-Auth: %s", auth);
		h = curl_slist_append(h, hdr);
	}
	h = curl_slist_append(h, "Expect:");
	rq.headers = h;
	rq.write = pull_write;
	rq.write_userdata = s;
	/* no overall timeout for big images; a stream silent for 10 min is dead */
	rq.stall_timeout = 600 * USEC_PER_SEC;
	r = http_send(&rq, &resp, &err);
	http_headers_free_secret(h);
	status = resp.status;
	/* an error answer's {"message": ...} body goes through the same parser */
	if (r == 0 && status != 200 && resp.size)
		(void)pull_write(resp.body, resp.size, s);
	http_response_done(&resp);
	if (s->line.size) /* a last line without newline */
		pull_line(s, s->line.data);
	s->line.size = 0;
	if (r < 0) {
		*ret_error = xasprintf("connection to the Docker daemon at %s failed during the "
				       "pull: %s",
				       d->socket, strempty(err));
		return r;
	}
	if (status != 200 && !s->error) {
		/* the body was a {"message": ...} error; its line went through pull_line */
		s->error = xasprintf("HTTP status %ld", status);
	}
	if (s->error) {
		r = docker_pull_error_class(s->error);
		if (r == -EIO && status == 404)
			r = -ENOENT;
		if (r == -EIO && (status == 401 || status == 403))
			r = -EACCES;
		*ret_error = TAKE_PTR(s->error);
		return r;
	}
	return 0;
}

int docker_image_pull(struct docker *d, const char *image, const char *registry_auth,
		      unsigned retries, usec_t backoff, docker_progress_fn fn, void *userdata,
		      struct docker_pull_result *ret, char **ret_error)
{
	_cleanup_free_ char *name = NULL, *tag = NULL, *auth = NULL;
	usec_t start = now_usec(CLOCK_MONOTONIC), wait = backoff;
	int r = -EIO;

	*ret_error = NULL;
	memset(ret, 0, sizeof(*ret));
	r = docker_image_split(image, &name, &tag);
	if (r < 0) {
		*ret_error = xstrdup("empty image name");
		return r;
	}
	if (registry_auth)
		auth = docker_base64url(registry_auth, strlen(registry_auth));

	for (unsigned attempt = 0; attempt <= retries; attempt++) {
		struct pull_state s = {.start = start, .fn = fn, .userdata = userdata};
		_cleanup_free_ char *error = NULL;

		ret->attempts = attempt + 1;
		r = pull_once(d, name, tag, auth, &s, &error);
		if (r == 0) {
			struct docker_pull_progress p = {0};
			pull_progress_compute(&s, &p);
			snprintf(ret->digest, sizeof(ret->digest), "%s", s.digest);
			ret->layers = p.layers;
			ret->bytes = p.bytes_done;
		}
		free(s.layers);
		buf_done(&s.line);
		free(s.error);
		if (r == 0)
			break;
		free(*ret_error);
		*ret_error = TAKE_PTR(error);
		/* only transient troubles are worth another try: the registry's,
		 * and a daemon that died or restarted under the pull (its
		 * stream cut, its socket not answering yet) */
		if ((r != -EHOSTUNREACH && r != -EAGAIN && r != -ECONNRESET &&
		     r != -ECONNREFUSED) ||
		    attempt == retries)
			break;
		if (fn) {
			struct docker_pull_progress p = {.status = "retry",
							 .retry_error = strempty(*ret_error),
							 .retry_in = wait,
							 .attempt = attempt + 1};
			fn(&p, userdata);
		}
		http_sleep(wait);
		wait *= 2;
	}
	if (auth)
		explicit_bzero(auth, strlen(auth));
	ret->duration = now_usec(CLOCK_MONOTONIC) - start;
	return r;
}

int docker_pull_stream_parse(const char *data, size_t size, docker_progress_fn fn, void *userdata,
			     struct docker_pull_result *ret, char **ret_error)
{
	struct pull_state s = {.start = now_usec(CLOCK_MONOTONIC), .fn = fn, .userdata = userdata};
	struct docker_pull_progress p = {0};
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	*ret_error = NULL;
	r = pull_write(data, size, &s);
	if (r == 0 && s.line.size) /* a last line without newline */
		pull_line(&s, s.line.data);
	pull_progress_compute(&s, &p);
	snprintf(ret->digest, sizeof(ret->digest), "%s", s.digest);
	ret->layers = p.layers;
	ret->bytes = p.bytes_done;
	if (r == 0 && s.error) {
		r = docker_pull_error_class(s.error);
		*ret_error = TAKE_PTR(s.error);
	}
	free(s.layers);
	buf_done(&s.line);
	free(s.error);
	return r;
}

/* GETs path as JSON: 0, -ENOENT on 404, -EIO otherwise. */
static int docker_get_json(struct docker *d, const char *path, cJSON **ret)
{
	struct buf body = {0};
	long status = 0;
	int r;

	r = docker_call(d, "GET", path, NULL, &status, &body);
	if (r < 0) {
		buf_done(&body);
		return r;
	}
	if (status == 404) {
		buf_done(&body);
		return -ENOENT;
	}
	if (status != 200) {
		buf_done(&body);
		return -EIO;
	}
	*ret = cJSON_Parse(body.data ? body.data : "");
	buf_done(&body);
	return *ret ? 0 : -EBADMSG;
}

int docker_image_inspect(struct docker *d, const char *image, cJSON **ret)
{
	_cleanup_free_ char *e = escape(image);
	_cleanup_free_ char *path = xasprintf("/images/%s/json", e);

	return docker_get_json(d, path, ret);
}

int docker_container_inspect(struct docker *d, const char *name, cJSON **ret)
{
	_cleanup_free_ char *e = escape(name);
	_cleanup_free_ char *path = xasprintf("/containers/%s/json", e);

	return docker_get_json(d, path, ret);
}

int docker_container_list(struct docker *d, const char *label, cJSON **ret)
{
	_cleanup_(cJSON_Deletep) cJSON *f = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL, *e = NULL, *path = NULL;
	cJSON *a = cJSON_AddArrayToObject(f, "label");

	cJSON_AddItemToArray(a, cJSON_CreateString(label));
	text = cJSON_PrintUnformatted(f);
	e = escape(text);
	path = xasprintf("/containers/json?all=1&filters=%s", e);
	return docker_get_json(d, path, ret);
}

int docker_container_create(struct docker *d, const char *name, const cJSON *spec, char **ret_id,
			    char **ret_error)
{
	_cleanup_free_ char *e = escape(name), *path = NULL, *text = NULL;
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;
	struct buf body = {0};
	const cJSON *id;
	long status = 0;
	int r;

	*ret_error = NULL;
	path = xasprintf("/containers/create?name=%s", e);
	text = cJSON_PrintUnformatted(spec);
	r = docker_call(d, "POST", path, text, &status, &body);
	if (r < 0) {
		buf_done(&body);
		*ret_error = xasprintf("Docker daemon connection failed: %s", strerror(-r));
		return r;
	}
	if (status != 201) {
		*ret_error = docker_error_message(&body, status);
		buf_done(&body);
		if (status == 409)
			return -EEXIST;
		if (status == 404)
			return -ENOENT;
		if (status == 400)
			return -EINVAL;
		return docker_pull_error_class(*ret_error) == -ENOSPC ? -ENOSPC : -EIO;
	}
	j = cJSON_Parse(body.data ? body.data : "");
	buf_done(&body);
	id = cJSON_GetObjectItemCaseSensitive(j, "Id");
	if (!cJSON_IsString(id)) {
		*ret_error = xstrdup("the daemon's answer has no container Id");
		return -EBADMSG;
	}
	*ret_id = xstrdup(id->valuestring);
	return 0;
}

int docker_container_start(struct docker *d, const char *id, char **ret_error)
{
	_cleanup_free_ char *e = escape(id), *path = NULL;
	struct buf body = {0};
	long status = 0;
	int r;

	*ret_error = NULL;
	path = xasprintf("/containers/%s/start", e);
	r = docker_call(d, "POST", path, NULL, &status, &body);
	if (r < 0) {
		buf_done(&body);
		*ret_error = xasprintf("Docker daemon connection failed: %s", strerror(-r));
		return r;
	}
	if (status == 204 || status == 304) {
		buf_done(&body);
		return 0;
	}
	*ret_error = docker_error_message(&body, status);
	buf_done(&body);
	if (status == 404)
		return -ENOENT;
	return docker_pull_error_class(*ret_error) == -ENOSPC ? -ENOSPC : -EIO;
}

int docker_container_stop(struct docker *d, const char *id, unsigned timeout_sec)
{
	_cleanup_free_ char *e = escape(id), *path = NULL;
	struct buf body = {0};
	long status = 0;
	int r;

	path = xasprintf("/containers/%s/stop?t=%u", e, timeout_sec);
	r = docker_call(d, "POST", path, NULL, &status, &body);
	buf_done(&body);
	if (r < 0)
		return r;
	if (status == 404)
		return -ENOENT;
	return status == 204 || status == 304 ? 0 : -EIO;
}

int docker_container_remove(struct docker *d, const char *id, int force)
{
	_cleanup_free_ char *e = escape(id), *path = NULL;
	struct buf body = {0};
	long status = 0;
	int r;

	path = xasprintf("/containers/%s?force=%d", e, force ? 1 : 0);
	r = docker_call(d, "DELETE", path, NULL, &status, &body);
	buf_done(&body);
	if (r < 0)
		return r;
	if (status == 404)
		return -ENOENT;
	return status == 204 ? 0 : -EIO;
}

int docker_request(struct docker *d, const char *method, const char *path, const cJSON *body,
		   cJSON **ret_json, char **ret_error)
{
	_cleanup_free_ char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	struct buf b = {0};
	long status = 0;
	int r;

	*ret_error = NULL;
	if (ret_json)
		*ret_json = NULL;
	r = docker_call(d, method, path, text, &status, &b);
	if (r < 0) {
		buf_done(&b);
		*ret_error = xasprintf("Docker daemon connection failed: %s", strerror(-r));
		return r;
	}
	if (status < 200 || status > 299) {
		*ret_error = docker_error_message(&b, status);
		buf_done(&b);
		switch (status) {
		case 404:
			return -ENOENT;
		case 409:
			return -EBUSY;
		case 400:
			return -EINVAL;
		default:
			return -EIO;
		}
	}
	if (ret_json && b.data && b.size) {
		*ret_json = cJSON_Parse(b.data);
		if (!*ret_json) {
			buf_done(&b);
			*ret_error = xstrdup("the daemon's answer is not JSON");
			return -EBADMSG;
		}
	}
	buf_done(&b);
	return 0;
}
