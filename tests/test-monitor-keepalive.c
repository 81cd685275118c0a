/* Keepalive files: written by the client, read by the daemon, hostile ones ignored. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "monitor-keepalive.h"
#include "tests.h"

static struct config *config_in_tmp(char *dir)
{
	struct config *c = config_new();

	if (!mkdtemp(dir))
		return c;
	free(c->runtime_dir);
	c->runtime_dir = xstrdup(dir);
	return c;
}

TEST(set_scan_clear)
{
	char dir[] = "/tmp/agentbox-ka-XXXXXX";
	_cleanup_(config_freep) struct config *c = config_in_tmp(dir);
	usec_t now = now_usec(CLOCK_REALTIME);
	struct keepalive k;
	struct stat st;

	ASSERT_OK(keepalive_dir_create(c));
	_cleanup_free_ char *kd = keepalive_dir(c);
	ASSERT_OK(stat(kd, &st));
	ASSERT_INT_EQ(st.st_mode & 07777, 01777);
	ASSERT_OK(keepalive_scan(c, now, &k));
	ASSERT_UINT_EQ(k.until, 0);

	ASSERT_OK(keepalive_set(c, "alice", 2 * USEC_PER_HOUR, "long build"));
	ASSERT_OK(keepalive_set(c, "bob", 10 * USEC_PER_MINUTE, NULL));
	ASSERT_OK(keepalive_scan(c, now, &k));
	ASSERT_STR_EQ(k.holder, "alice");
	ASSERT_STR_EQ(k.reason, "long build");
	ASSERT_TRUE(k.until >= now + 2 * USEC_PER_HOUR - USEC_PER_SEC);
	ASSERT_TRUE(k.until <= now + 2 * USEC_PER_HOUR + 5 * USEC_PER_SEC);

	/* past its end a keepalive is no hold */
	ASSERT_OK(keepalive_scan(c, now + 3 * USEC_PER_HOUR, &k));
	ASSERT_UINT_EQ(k.until, 0);

	ASSERT_OK(keepalive_clear(c, "alice"));
	ASSERT_OK(keepalive_scan(c, now, &k));
	ASSERT_STR_EQ(k.holder, "bob");
	ASSERT_ERR(keepalive_clear(c, "alice"), -ENOENT);
	ASSERT_ERR(keepalive_set(c, "../etc/passwd", USEC_PER_HOUR, NULL), -EINVAL);
	ASSERT_INT_EQ(keepalive_clear_all(c), 1);
	rmdir(kd);
	rmdir(dir);
}

TEST(hand_written_and_hostile_files)
{
	char dir[] = "/tmp/agentbox-ka-XXXXXX";
	_cleanup_(config_freep) struct config *c = config_in_tmp(dir);
	_cleanup_free_ char *kd = NULL, *p = NULL, *q = NULL, *fifo = NULL;
	usec_t now = now_usec(CLOCK_REALTIME);
	struct keepalive k;
	FILE *f;

	ASSERT_OK(keepalive_dir_create(c));
	kd = keepalive_dir(c);
	/* "echo 90m > keepalive.d/build" works */
	p = xasprintf("%s/build", kd);
	f = fopen(p, "w");
	ASSERT_NOT_NULL(f);
	fputs("90m\n", f);
	fclose(f);
	/* garbage, a symlink and a fifo are ignored, never followed or blocked on */
	q = xasprintf("%s/garbage", kd);
	f = fopen(q, "w");
	ASSERT_NOT_NULL(f);
	fputs("forever please\n", f);
	fclose(f);
	_cleanup_free_ char *link = xasprintf("%s/link", kd);
	ASSERT_OK(symlink("/etc/passwd", link));
	fifo = xasprintf("%s/fifo", kd);
	ASSERT_OK(mkfifo(fifo, 0644));
	ASSERT_OK(keepalive_scan(c, now, &k));
	ASSERT_STR_EQ(k.holder, "build");
	ASSERT_INT_EQ(k.n_invalid, 3);
	ASSERT_INT_EQ(keepalive_clear_all(c), 4);
	rmdir(kd);
	rmdir(dir);
}
