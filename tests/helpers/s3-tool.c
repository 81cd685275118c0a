/* Drives lib/s3 from the shell for the state tests:
 *   s3-tool ENDPOINT REGION BUCKET CREDENTIALS_FILE|imds:URL COMMAND ARGS...
 * commands: mkbucket (creates BUCKET) | put KEY FILE | put-if-none-match KEY FILE |
 * put-if-match KEY FILE ETAG | get KEY (to stdout) | head KEY | list PREFIX | delete KEY |
 * upload KEY FILE PART_SIZE (multipart from FILE; prints the object's ETag) | upload-abort KEY
 * FILE PART_SIZE (sends one part, then aborts).
 * $S3_VHOST=1 selects virtual-host style; $S3_ATTEMPTS sets the retries; $S3_LIST_PAGE the keys
 * per LIST page; $S3_REPEAT=N repeats put-if-match N times in this process, each over the
 * object's current quoted ETag. Errors go to stderr as s3_last_error(); exit 1, or 3 when a
 * condition failed (-EEXIST). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "s3.h"

static int write_stdout(const void *data, size_t size, void *userdata)
{
	(void)userdata;
	return fwrite(data, 1, size, stdout) == size ? 0 : -EIO;
}

static int print_key(const char *key, uint64_t size, void *userdata)
{
	(void)userdata;
	printf("%" PRIu64 " %s\n", size, key);
	return 0;
}

static int upload_file(struct s3_client *s, const char *key, const char *path, uint64_t part,
		       int abort_after_one)
{
	_cleanup_(s3_upload_freep) struct s3_upload *u = NULL;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	static char buf[1 << 16];
	int r;

	if (fd < 0)
		return -errno;
	r = s3_upload_begin(s, key, part, &u);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		r = s3_upload_write(u, buf, (size_t)n);
		if (r < 0)
			return r;
		if (abort_after_one && s3_upload_bytes(u) > part)
			return 0; /* the cleanup aborts it */
	}
	r = s3_upload_finish(u);
	if (r >= 0 && !abort_after_one)
		printf("%s\n", s3_upload_etag(u));
	return r;
}

int main(int argc, char **argv)
{
	_cleanup_(s3_client_freep) struct s3_client *s = NULL;
	const char *why = NULL, *cmd;
	int r = -EINVAL;

	log_open("s3-tool");
	if (argc < 6 || (argc < 7 && strcmp(argv[5], "mkbucket") != 0)) {
		fprintf(stderr,
			"usage: s3-tool ENDPOINT REGION BUCKET CREDENTIALS COMMAND ARGS...\n");
		return 2;
	}
	s = s3_client_new(argv[1], argv[2], argv[3], !getenv("S3_VHOST"));
	if (getenv("S3_ATTEMPTS"))
		s3_client_set_retry(s, (unsigned)strtoul(getenv("S3_ATTEMPTS"), NULL, 10), 50);
	else
		s3_client_set_retry(s, 6, 50);
	if (getenv("S3_LIST_PAGE"))
		s3_client_set_list_page(s, (unsigned)strtoul(getenv("S3_LIST_PAGE"), NULL, 10));
	if (startswith(argv[4], "imds:"))
		r = s3_client_load_imds(s, argv[4] + 5, &why);
	else
		r = s3_client_load_credentials(s, argv[4], NULL, &why);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", argv[4], why);
		return 1;
	}
	cmd = argv[5];
	if (streq(cmd, "mkbucket"))
		r = s3_put(s, "", "", 0, NULL); /* PUT on the bucket's URL: CreateBucket */
	else if (streq(cmd, "put") && argc == 8) {
		_cleanup_free_ char *data = NULL;
		size_t size = 0;
		r = read_file(argv[7], 64 * 1024 * 1024, &data, &size);
		if (r >= 0)
			r = s3_put(s, argv[6], data, size, NULL);
	} else if (streq(cmd, "put-if-none-match") && argc == 8) {
		_cleanup_free_ char *data = NULL;
		size_t size = 0;
		r = read_file(argv[7], 64 * 1024 * 1024, &data, &size);
		if (r >= 0)
			r = s3_put_if(s, argv[6], data, size, NULL, NULL, "*");
	} else if (streq(cmd, "put-if-match") && argc == 9) {
		_cleanup_free_ char *data = NULL;
		size_t size = 0;
		unsigned n =
		    getenv("S3_REPEAT") ? (unsigned)strtoul(getenv("S3_REPEAT"), NULL, 10) : 1;
		r = read_file(argv[7], 64 * 1024 * 1024, &data, &size);
		if (r >= 0)
			r = s3_put_if(s, argv[6], data, size, NULL, argv[8], NULL);
		/* $S3_REPEAT: again over the new quoted ETag, in this process */
		for (unsigned i = 1; r >= 0 && i < n; i++) {
			struct s3_object_info info;
			r = s3_head(s, argv[6], &info);
			if (r >= 0)
				r = s3_put_if(s, argv[6], data, size, NULL, info.etag, NULL);
		}
	} else if (streq(cmd, "get"))
		r = s3_get(s, argv[6], write_stdout, NULL, NULL);
	else if (streq(cmd, "head")) {
		struct s3_object_info info;
		r = s3_head(s, argv[6], &info);
		if (r >= 0)
			printf("%" PRIu64 " %s\n", info.size, info.etag);
	} else if (streq(cmd, "list"))
		r = s3_list(s, argv[6], print_key, NULL);
	else if (streq(cmd, "delete"))
		r = s3_delete(s, argv[6]);
	else if ((streq(cmd, "upload") || streq(cmd, "upload-abort")) && argc == 9)
		r = upload_file(s, argv[6], argv[7], strtoull(argv[8], NULL, 10),
				streq(cmd, "upload-abort"));
	else {
		fprintf(stderr, "s3-tool: unknown command or arguments\n");
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "%s (%s)\n", *s3_last_error(s) ? s3_last_error(s) : "error",
			strerror(-r));
		return r == -EEXIST ? 3 : 1;
	}
	return 0;
}
