/* lib/s3 and lib/tarball without a server: encoding, URLs, part sizes,
 * credentials files, excludes, a local archive round trip, torn files;
 * and the state.* config keys. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "macro.h"
#include "s3.h"
#include "tarball.h"
#include "tests.h"

static char *make_tmpdir(void)
{
	char *d = xstrdup("/tmp/agentbox-test-state-XXXXXX");
	if (!mkdtemp(d)) {
		free(d);
		return NULL;
	}
	return d;
}

static int write_str(const char *path, const char *s, mode_t mode)
{
	return write_file_atomic(path, s, strlen(s), mode);
}

TEST(uri_encode)
{
	_cleanup_free_ char *a = s3_uri_encode("a b/c+d~e_f.g-ü", 1);
	_cleanup_free_ char *b = s3_uri_encode("a b/c", 0);

	ASSERT_STR_EQ(a, "a%20b/c%2Bd~e_f.g-%C3%BC");
	ASSERT_STR_EQ(b, "a%20b%2Fc");
}

TEST(urls)
{
	_cleanup_(s3_client_freep) struct s3_client *p =
	    s3_client_new("http://127.0.0.1:9000/", "auto", "bkt", 1);
	_cleanup_(s3_client_freep) struct s3_client *v =
	    s3_client_new("r2.example.com", "auto", "bkt", 0);
	_cleanup_(s3_client_freep) struct s3_client *aws =
	    s3_client_new(NULL, "eu-central-1", "b", 0);
	_cleanup_free_ char *u1 = s3_url(p, "x/a b", NULL), *u2 = s3_url(v, "x", "uploads=");
	_cleanup_free_ char *u3 = s3_url(p, "", "list-type=2&prefix=a%2F"),
			    *u4 = s3_url(aws, "k", NULL);

	ASSERT_STR_EQ(u1, "http://127.0.0.1:9000/bkt/x/a%20b");
	ASSERT_STR_EQ(u2, "https://bkt.r2.example.com/x?uploads=");
	ASSERT_STR_EQ(u3, "http://127.0.0.1:9000/bkt?list-type=2&prefix=a%2F");
	ASSERT_STR_EQ(u4, "https://b.s3.eu-central-1.amazonaws.com/k");
}

TEST(part_size)
{
	uint64_t tib = 1024ULL * 1024 * 1024 * 1024;

	ASSERT_UINT_EQ(s3_part_size_for(0), S3_DEFAULT_PART_SIZE);
	ASSERT_UINT_EQ(s3_part_size_for(1024 * 1024 * 1024), S3_DEFAULT_PART_SIZE);
	ASSERT_TRUE(s3_part_size_for(tib) * S3_MAX_PARTS >= tib + tib / 20);
	ASSERT_TRUE(s3_part_size_for(tib) % (1024 * 1024) == 0);
	ASSERT_TRUE(s3_part_size_for(tib) < 2 * (tib / S3_MAX_PARTS));
}

TEST(credentials_file)
{
	_cleanup_free_ char *d = make_tmpdir(), *f = NULL;
	_cleanup_(s3_client_freep) struct s3_client *s = s3_client_new(NULL, NULL, "b", 0);
	const char *why = NULL;

	ASSERT_NOT_NULL(d);
	f = xasprintf("%s/credentials", d);
	ASSERT_OK(write_str(f,
			    "# comment\n[other]\naws_access_key_id = X\n\n[default]\n"
			    "aws_access_key_id = AKIA1\naws_secret_access_key=  s3cr3t \n"
			    "aws_session_token = tok\n",
			    0600));
	ASSERT_OK(s3_client_load_credentials(s, f, NULL, &why));
	ASSERT_OK(s3_client_load_credentials(s, f, "default", &why));
	ASSERT_ERR(s3_client_load_credentials(s, f, "other", &why), -EINVAL);
	ASSERT_STR_CONTAINS(why, "aws_secret_access_key");
	ASSERT_ERR(s3_client_load_credentials(s, f, "nope", &why), -ENOENT);
	ASSERT_OK(chmod(f, 0644));
	ASSERT_ERR(s3_client_load_credentials(s, f, NULL, &why), -EPERM);
	ASSERT_STR_CONTAINS(why, "chmod 0600");
	unlink(f);
	rmdir(d);
}

struct file_sink {
	int fd;
	const char *grow; /* a file to append to on the first call: a torn file */
	int calls;
};

static int file_sink_write(const void *data, size_t size, void *userdata)
{
	struct file_sink *k = userdata;

	if (k->grow && k->calls++ == 0) {
		int fd = open(k->grow, O_WRONLY | O_APPEND);
		if (fd >= 0) {
			if (write(fd, "more", 4) != 4)
				return -EIO;
			close(fd);
		}
	}
	return write(k->fd, data, size) == (ssize_t)size ? 0 : -EIO;
}

static int failing_sink(const void *data, size_t size, void *userdata)
{
	(void)data;
	(void)size;
	(void)userdata;
	return -ECONNRESET;
}

TEST(archive_round_trip)
{
	_cleanup_free_ char *d = make_tmpdir(), *src = NULL, *arc = NULL, *stage = NULL,
			    *big = NULL, *err = NULL, *back = NULL, *text = NULL;
	struct tarball_stats st, st2, dg;
	struct file_sink k = {-1};
	char *paths[2] = {NULL, NULL};
	char buf[1 << 16];
	int fd;

	ASSERT_NOT_NULL(d);
	src = xasprintf("%s/src", d);
	stage = xasprintf("%s/stage", d);
	arc = xasprintf("%s/a.tar.zst", d);
	ASSERT_OK(mkdir_p(src, 0755));
	ASSERT_OK(mkdir_p(stage, 0700));
	paths[0] = src;
	{
		_cleanup_free_ char *f = xasprintf("%s/hello", src), *l = xasprintf("%s/link", src);
		ASSERT_OK(write_str(f, "hello world\n", 0640));
		ASSERT_OK(symlink("hello", l));
	}
	big = xasprintf("%s/big", src);
	fd = open(big, O_WRONLY | O_CREAT, 0600);
	{
		/* 40 MiB of incompressible bytes: streamed, and more than zstd's
		 * worker threads hold (jobs of 8 MiB), so that the sink is called
		 * while it is read */
		int rnd = open("/dev/urandom", O_RDONLY);
		for (int i = 0; i < 640; i++) {
			ASSERT_INT_EQ(read(rnd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
			ASSERT_INT_EQ(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
		}
		close(rnd);
	}
	close(fd);

	ASSERT_OK(tarball_tree_digest(paths, NULL, &dg, NULL));
	k.fd = open(arc, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_OK(tarball_create(paths, NULL, 3, file_sink_write, &k, &st, NULL));
	close(k.fd);
	ASSERT_INT_EQ(st.files, 4);
	ASSERT_STR_EQ(st.tree_digest, dg.tree_digest);

	fd = open(arc, O_RDONLY);
	ASSERT_OK(tarball_extract_fd(fd, stage, paths, NULL, &st2, &err));
	close(fd);
	ASSERT_INT_EQ(st2.files, 4);
	back = xasprintf("%s%s/hello", stage, src);
	ASSERT_OK(read_file(back, 1024, &text, NULL));
	ASSERT_STR_EQ(text, "hello world\n");

	/* an archive restricted to other paths is refused whole */
	{
		char *other[] = {"/nowhere", NULL};
		_cleanup_free_ char *e2 = NULL;
		fd = open(arc, O_RDONLY);
		ASSERT_ERR(tarball_extract_fd(fd, stage, other, NULL, &st2, &e2), -EPERM);
		close(fd);
		ASSERT_STR_CONTAINS(e2, "outside the state paths");
	}

	/* the digest moves with an mtime */
	{
		struct timespec ts[2] = {{0, UTIME_OMIT}, {12345, 0}};
		ASSERT_OK(utimensat(AT_FDCWD, big, ts, AT_SYMLINK_NOFOLLOW));
		ASSERT_OK(tarball_tree_digest(paths, NULL, &st2, NULL));
		ASSERT_FALSE(streq(st2.tree_digest, dg.tree_digest));
	}

	/* a same-size rewrite with the old mtime put back still moves it */
	{
		_cleanup_free_ char *f = xasprintf("%s/hello", src);
		struct tarball_stats a, b;
		struct stat before;
		struct timespec ts[2];
		ASSERT_OK(tarball_tree_digest(paths, NULL, &a, NULL));
		ASSERT_OK(stat(f, &before));
		usleep(20 * 1000); /* a ctime tick apart even on coarse clocks */
		ASSERT_OK(write_str(f, "HELLO WORLD\n", 0640)); /* same size, new inode */
		ts[0] = before.st_atim;
		ts[1] = before.st_mtim;
		ASSERT_OK(utimensat(AT_FDCWD, f, ts, 0));
		ASSERT_OK(tarball_tree_digest(paths, NULL, &b, NULL));
		ASSERT_FALSE(streq(a.tree_digest, b.tree_digest));
		/* in place too: same inode, only the ctime tells */
		{
			int wfd = open(f, O_WRONLY);
			ASSERT_TRUE(wfd >= 0);
			usleep(20 * 1000);
			ASSERT_INT_EQ(pwrite(wfd, "h", 1, 0), 1);
			close(wfd);
		}
		ASSERT_OK(utimensat(AT_FDCWD, f, ts, 0));
		ASSERT_OK(tarball_tree_digest(paths, NULL, &a, NULL));
		ASSERT_FALSE(streq(a.tree_digest, b.tree_digest));
	}

	/* a file that grows while archived fails the archive, naming it */
	{
		_cleanup_free_ char *bad = NULL;
		k.fd = open(arc, O_WRONLY | O_TRUNC);
		k.grow = big;
		k.calls = 0;
		ASSERT_ERR(tarball_create(paths, NULL, 3, file_sink_write, &k, &st, &bad), -EAGAIN);
		close(k.fd);
		ASSERT_STR_EQ(bad, big);
	}
	/* the sink's error comes back, not libarchive's */
	ASSERT_ERR(tarball_create(paths, NULL, 3, failing_sink, NULL, &st, NULL), -ECONNRESET);

	ASSERT_OK(rm_rf(d));
	ASSERT_TRUE(access(d, F_OK) < 0);
}

/* rm_rf at any depth: a tree longer than PATH_MAX and deeper than the
 * fd limit would allow with one fd a level. */
TEST(rm_rf_deep)
{
	_cleanup_free_ char *d = make_tmpdir();
	int fd;

	ASSERT_NOT_NULL(d);
	fd = open(d, O_RDONLY | O_DIRECTORY);
	ASSERT_TRUE(fd >= 0);
	for (int i = 0; i < 1500; i++) {
		int cfd, ffd;
		ASSERT_OK(mkdirat(fd, "dd", 0700));
		ffd = openat(fd, "f", O_WRONLY | O_CREAT, 0600);
		ASSERT_TRUE(ffd >= 0);
		close(ffd);
		ASSERT_OK(symlinkat("/etc", fd, "l"));
		cfd = openat(fd, "dd", O_RDONLY | O_DIRECTORY);
		ASSERT_TRUE(cfd >= 0);
		close(fd);
		fd = cfd;
	}
	close(fd);
	ASSERT_OK(rm_rf(d));
	ASSERT_TRUE(access(d, F_OK) < 0);
	ASSERT_TRUE(access("/etc/passwd", F_OK) == 0);
	ASSERT_OK(rm_rf(d)); /* gone: success */
}

TEST(config_state_keys)
{
	_cleanup_(config_freep) struct config *c = config_new();
	_cleanup_free_ char *error = NULL;

	ASSERT_TRUE(c->state_paths == NULL);
	ASSERT_TRUE(c->state_storage_bucket == NULL);
	ASSERT_UINT_EQ(c->state_backup_interval, 15 * USEC_PER_MINUTE);
	ASSERT_TRUE(c->state_keep == 5);
	ASSERT_OK(
	    config_load_string(c,
			       "{\"workspace\": {\"home\": \"/home/x\", \"name\": \"w1\"},"
			       " \"state\": {\"storage\": {\"bucket\": \"bkt\", \"prefix\": \"p\"},"
			       " \"on_restore_failure\": \"empty\"}}",
			       "t.json", &error));
	ASSERT_OK(config_finish(c, &error));
	ASSERT_STR_EQ(c->state_paths[0], "/home/x/.claude");
	ASSERT_STR_EQ(c->state_paths[1], "/home/x/.claude.json");
	ASSERT_STR_EQ(c->state_storage_prefix, "p/");
	ASSERT_INT_EQ(c->state_on_restore_failure, RESTORE_FAILURE_EMPTY);
	ASSERT_TRUE(config_load_string(c, "{\"state\": {\"keep\": 0}}", "t.json", &error) < 0);
	ASSERT_STR_CONTAINS(error, "state.keep");
	ASSERT_TRUE(config_load_string(c, "{\"state\": {\"on_restore_failure\": \"x\"}}", "t.json",
				       &error) < 0);
	ASSERT_STR_CONTAINS(error, "state.on_restore_failure");
	ASSERT_TRUE(config_load_string(c, "{\"state\": {\"storage\": {\"bucket\": 3}}}", "t.json",
				       &error) < 0);
	ASSERT_STR_CONTAINS(error, "state.storage.bucket: expected a string");
	/* bucket names under 3 characters: RGW and restic refuse them */
	for (unsigned i = 0; i < 2; i++) {
		_cleanup_(config_freep) struct config *d = config_new();
		_cleanup_free_ char *e = NULL;
		const char *json = i == 0 ? "{\"workspace\": {\"home\": \"/h\"}, \"state\": "
					    "{\"storage\": {\"bucket\": \"ab\"}}}"
					  : "{\"workspace\": {\"home\": \"/h\"}, \"state\": "
					    "{\"storage\": {\"bucket\": \"a/b/c\"}}}";
		ASSERT_OK(config_load_string(d, json, "t.json", &e));
		ASSERT_TRUE(config_finish(d, &e) < 0);
		ASSERT_STR_CONTAINS(e, "state.storage.bucket");
		ASSERT_STR_CONTAINS(e, "not a bucket name");
	}
}
