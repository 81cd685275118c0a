/* Unit tests of lib/docker's pure parts: image references, base64url,
 * the classes of pull errors, libcurl code conversion. */
#include <curl/curl.h>
#include <errno.h>

#include "docker-exec.h"
#include "docker.h"
#include "macro.h"
#include "tests.h"

static void split(const char *image, const char *name, const char *tag)
{
	_cleanup_free_ char *n = NULL, *t = NULL;

	if (docker_image_split(image, &n, &t) < 0 || !streq(n, name) || !streq(t, tag)) {
		printf("  split %s: got \"%s\" \"%s\"\n", image, strempty(n), strempty(t));
		test_failed = 1;
	}
}

TEST(image_split)
{
	char *n = NULL, *t = NULL;

	split("busybox", "busybox", "latest");
	split("busybox:1.36", "busybox", "1.36");
	split("127.0.0.1:5000/test/bb", "127.0.0.1:5000/test/bb", "latest");
	split("127.0.0.1:5000/test/bb:1", "127.0.0.1:5000/test/bb", "1");
	split("ghcr.io/o/img@sha256:abcd", "ghcr.io/o/img@sha256:abcd", "");
	split("img:", "img:", "latest");
	ASSERT_ERR(docker_image_split("", &n, &t), -EINVAL);
}

TEST(base64url)
{
	_cleanup_free_ char *a = docker_base64url("", 0);
	_cleanup_free_ char *b = docker_base64url("f", 1);
	_cleanup_free_ char *c = docker_base64url("fo", 2);
	_cleanup_free_ char *d = docker_base64url("foo", 3);
	_cleanup_free_ char *e = docker_base64url("\xfb\xff\xbf", 3);
	_cleanup_free_ char *f = docker_base64url("{\"username\":\"a\"}", 16);

	ASSERT_STR_EQ(a, "");
	ASSERT_STR_EQ(b, "Zg==");
	ASSERT_STR_EQ(c, "Zm8=");
	ASSERT_STR_EQ(d, "Zm9v");
	ASSERT_STR_EQ(e, "-_-_"); /* the URL-safe alphabet, not "+/+/" */
	ASSERT_STR_EQ(f, "eyJ1c2VybmFtZSI6ImEifQ==");
}

TEST(pull_error_class)
{
	ASSERT_ERR(docker_pull_error_class("manifest for r/x:1 not found: manifest unknown: "
					   "manifest unknown"),
		   -ENOENT);
	ASSERT_ERR(
	    docker_pull_error_class("pull access denied for x, repository does not exist "
				    "or may require 'docker login': denied: requested access "
				    "to the resource is denied"),
	    -EACCES);
	ASSERT_ERR(docker_pull_error_class("unauthorized: authentication required"), -EACCES);
	ASSERT_ERR(docker_pull_error_class("Head \"http://r/v2/x/manifests/1\": no basic auth "
					   "credentials"),
		   -EACCES);
	ASSERT_ERR(docker_pull_error_class("Get \"http://127.0.0.1:5999/v2/\": dial tcp "
					   "127.0.0.1:5999: connect: connection refused"),
		   -EHOSTUNREACH);
	ASSERT_ERR(docker_pull_error_class("Get \"https://r/v2/\": net/http: TLS handshake "
					   "timeout"),
		   -EHOSTUNREACH);
	ASSERT_ERR(docker_pull_error_class("received unexpected HTTP status: 503 Service "
					   "Unavailable"),
		   -EAGAIN);
	ASSERT_ERR(docker_pull_error_class("toomanyrequests: You have reached your pull rate "
					   "limit"),
		   -EAGAIN);
	ASSERT_ERR(docker_pull_error_class("failed to register layer: Error processing tar file"
					   "(exit status 1): write /usr/lib/x.so: no space left on "
					   "device"),
		   -ENOSPC);
	ASSERT_ERR(docker_pull_error_class("something else entirely"), -EIO);
	ASSERT_ERR(docker_pull_error_class(NULL), -EIO);
}

TEST(curl_code_to_errno)
{
	ASSERT_OK(docker_curl_code_to_errno(CURLE_OK));
	ASSERT_ERR(docker_curl_code_to_errno(CURLE_COULDNT_CONNECT), -ECONNREFUSED);
	ASSERT_ERR(docker_curl_code_to_errno(CURLE_OPERATION_TIMEDOUT), -ETIMEDOUT);
	ASSERT_ERR(docker_curl_code_to_errno(CURLE_RECV_ERROR), -ECONNRESET);
	ASSERT_ERR(docker_curl_code_to_errno(CURLE_SSL_CONNECT_ERROR), -EPROTO); /* http_errno() */
}

TEST(open_missing_socket)
{
	struct docker *d = NULL;
	_cleanup_free_ char *error = NULL;

	ASSERT_ERR(docker_open("/nonexistent/docker.sock", &d, &error), -ENOENT);
	ASSERT_STR_CONTAINS(error, "Cannot reach the Docker daemon: /nonexistent/docker.sock");
	free(error);
	error = NULL;
	ASSERT_ERR(docker_open("tcp://127.0.0.1:2375", &d, &error), -EPROTONOSUPPORT);
	ASSERT_TRUE(d == NULL);
}

TEST(exec_parse_upgrade)
{
	const char ok[] = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
			  "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n$ ";
	const char old[] = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n";
	const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n"
			  "{\"message\":\"No such exec instance\"}";
	const char junk[] = "SSH-2.0-OpenSSH\r\n\r\n";
	char *e = NULL;

	ASSERT_INT_EQ(docker_exec_parse_upgrade(ok, 20, &e), 0);
	ASSERT_INT_EQ(docker_exec_parse_upgrade(ok, sizeof(ok) - 1, &e), (ssize_t)sizeof(ok) - 3);
	ASSERT_INT_EQ(docker_exec_parse_upgrade(old, sizeof(old) - 1, &e), (ssize_t)sizeof(old) - 1);
	ASSERT_ERR(docker_exec_parse_upgrade(nf, sizeof(nf) - 1, &e), -EPROTO);
	ASSERT_STR_EQ(e, "HTTP/1.1 404 Not Found");
	free(e);
	ASSERT_ERR(docker_exec_parse_upgrade(junk, sizeof(junk) - 1, &e), -EPROTO);
	free(e);
}
