/*
 * Mount-time behaviour: a good mount works end to end; bad input gives one
 * readable line on stderr, a non-zero exit within 10 s and no mount;
 * --version and --help.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BAD_INPUT_LIMIT_MS 10000

static const char content[] = "hello from etagfs\n";

/* The S3 object @key of @bucket holds exactly @len bytes of @data. */
static void assert_object(const char *bucket, const char *key,
			  const void *data, size_t len)
{
	void *got = NULL;
	size_t got_len = 0;
	long st;

	st = it_s3_get(bucket, key, &got, &got_len, NULL);
	IT_ASSERT_MSG(st == 200, "GET %s/%s: HTTP %ld", bucket, key, st);
	IT_ASSERT_EQ_INT(got_len, len);
	IT_ASSERT_MEM(got, data, len);
	free(got);
}

/*
 * Run etagfs with @args (mountpoint @mnt among them) and check the
 * contract for bad input: exits non-zero by itself within 10 s, says so
 * in exactly one non-empty line on stderr that names no secret, leaves no
 * mount behind.
 */
static void assert_bad_input(const char *const *args, const char *mnt,
			     const char *what)
{
	struct it_run_result r;
	size_t len;
	char *nl;

	it_run_mount_cmd(args, 20, &r);
	it_log("%s: exit %d after %ld ms, stderr: %s", what, r.exit_code,
	       r.elapsed_ms, r.err);
	IT_ASSERT_MSG(!r.timed_out, "%s: etagfs still running after 20 s",
		      what);
	IT_ASSERT_MSG(r.exit_code > 0, "%s: exit status %d, want non-zero",
		      what, r.exit_code);
	IT_ASSERT_MSG(r.elapsed_ms <= BAD_INPUT_LIMIT_MS,
		      "%s: took %ld ms, want <= %d", what, r.elapsed_ms,
		      BAD_INPUT_LIMIT_MS);
	len = strlen(r.err);
	IT_ASSERT_MSG(len > 1, "%s: nothing on stderr", what);
	nl = strchr(r.err, '\n');
	IT_ASSERT_MSG(nl && nl[1] == '\0',
		      "%s: want exactly one newline-terminated line on "
		      "stderr, got: [%s]",
		      what, r.err);
	IT_ASSERT_MSG(!strstr(r.err, it_env.secret_key),
		      "%s: the secret key is on stderr", what);
	IT_ASSERT_MSG(!it_is_mounted(mnt), "%s: %s left mounted", what, mnt);
}

/* "endpoint=...,region=...,passwd_file=PW[,extra]" (static buffer). */
static const char *opts_for(const char *endpoint, const char *pw,
			    const char *extra)
{
	static char buf[8192];

	IT_SNPRINTF(buf, "endpoint=%s,region=%s,passwd_file=%s%s%s",
		    endpoint ? endpoint : it_env.endpoint, it_env.region, pw,
		    extra ? "," : "", extra ? extra : "");
	return buf;
}

/* A 0600 passwd file with the test user's credentials, in a new dir. */
static const char *good_passwd(void)
{
	static char path[4096];

	IT_SNPRINTF(path, "%s/passwd", it_mkdtemp("pw"));
	it_write_passwd(path, 0600, NULL, NULL);
	return path;
}

IT_TEST(test_good_mount_write_visible)
{
	static unsigned char big[300 * 1024];
	char bucket[64];
	struct it_mount m;
	void *back = NULL;
	size_t back_len = 0;
	long long size = -1;
	struct stat sb;

	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_OK(stat(it_path(&m, NULL), &sb));
	IT_ASSERT(S_ISDIR(sb.st_mode));

	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "hello.txt"), content,
				       sizeof(content) - 1),
			 0);
	assert_object(bucket, "hello.txt", content, sizeof(content) - 1);

	it_random_bytes(big, sizeof(big), 42);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "big.bin"), big,
				       sizeof(big)),
			 0);
	assert_object(bucket, "big.bin", big, sizeof(big));
	IT_ASSERT_EQ_INT(it_s3_head(bucket, "big.bin", &size, NULL, NULL,
				    NULL, 0),
			 200);
	IT_ASSERT_EQ_INT(size, sizeof(big));

	/* And back through the mount. */
	IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "big.bin"), &back,
				      &back_len),
			 0);
	IT_ASSERT_EQ_INT(back_len, sizeof(big));
	IT_ASSERT_MEM(back, big, sizeof(big));
	free(back);

	IT_ASSERT_MSG(it_unmount(&m) == 0, "unclean unmount");
	IT_ASSERT(!it_is_mounted(m.dir));
}

/* A process whose command line names @p needle (other than us), or 0. */
static pid_t process_naming(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	IT_ASSERT(d != NULL);
	while (!found && (de = readdir(d)) != NULL) {
		char path[64], cmd[4096];
		ssize_t n;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    atoi(de->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", atoi(de->d_name));
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[n] = '\0';
		if (strstr(cmd, needle) && strstr(cmd, "etagfs"))
			found = atoi(de->d_name);
	}
	closedir(d);
	return found;
}

/*
 * The way /etc/fstab mounts: through mount(8) and mount.fuse3, without
 * -f, so etagfs detaches and logs to syslog. mount(8) runs helpers with
 * a fixed PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:
 * /bin), where an uninstalled build is not: the test names the binary
 * itself, "mount -t fuse PROGRAM#BUCKET DIR -o ...", which mount.fuse3
 * runs as "PROGRAM BUCKET DIR -o ..." exactly as it runs etagfs for
 * "-t fuse.etagfs". mount returns 0 once the directory is mounted, a
 * file written there lands in the bucket, and after an unmount the
 * daemon exits by itself.
 */
IT_TEST(test_mount_t_fuse_etagfs)
{
	char bucket[64], source[PATH_MAX + 80];
	char opts[PATH_MAX * 3], file[PATH_MAX + 16];
	const char *mnt = it_mkdtemp("mnt"), *pw = good_passwd();
	long t0;
	pid_t pid, daemon;
	int st = 0;

	it_fresh_bucket(bucket);
	IT_SNPRINTF(source, "%s#%s", it_env.bin, bucket);
	IT_SNPRINTF(opts,
		    "endpoint=%s,region=%s,passwd_file=%s,staging_dir=%s,"
		    "conflict_dir=%s",
		    it_env.endpoint, it_env.region, pw, it_mkdtemp("stage"),
		    it_mkdtemp("conflicts"));
	t0 = it_now_ms();
	pid = fork();
	IT_ASSERT(pid >= 0);
	if (pid == 0) {
		execlp("mount", "mount", "-t", "fuse", source, mnt, "-o", opts,
		       (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (it_now_ms() - t0 > 20000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			IT_FAIL("mount -t fuse still running after 20 s");
		}
		usleep(20000);
	}
	it_log("mount -t fuse: exit %d after %ld ms",
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1, it_now_ms() - t0);
	IT_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "mount -t fuse failed (status %d)", st);
	IT_ASSERT_MSG(it_is_mounted(mnt), "%s is not mounted", mnt);
	daemon = process_naming(mnt);
	IT_ASSERT_MSG(daemon > 0, "no etagfs process serves %s", mnt);

	IT_SNPRINTF(file, "%s/fstab.txt", mnt);
	IT_ASSERT_EQ_INT(it_write_file(file, content, sizeof(content) - 1), 0);
	assert_object(bucket, "fstab.txt", content, sizeof(content) - 1);

	IT_ASSERT_OK(umount2(mnt, 0));
	t0 = it_now_ms();
	while (kill(daemon, 0) == 0 && it_now_ms() - t0 < 10000)
		usleep(20000);
	IT_ASSERT_MSG(kill(daemon, 0) != 0,
		      "etagfs (pid %d) still runs 10 s after the unmount",
		      (int)daemon);
	IT_ASSERT(!it_is_mounted(mnt));
}

IT_TEST(test_object_written_outside_is_visible)
{
	char bucket[64];
	struct it_mount m;
	void *back = NULL;
	size_t back_len = 0;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "dir/outside.txt", content,
				   sizeof(content) - 1, NULL),
			 200);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "dir/outside.txt"), &back,
				      &back_len),
			 0);
	IT_ASSERT_EQ_INT(back_len, sizeof(content) - 1);
	IT_ASSERT_MEM(back, content, sizeof(content) - 1);
	free(back);
	IT_ASSERT_MSG(it_unmount(&m) == 0, "unclean unmount");
}

IT_TEST(test_prefix_mount)
{
	char bucket[64], spec[128];
	struct it_mount m;
	char **keys;
	size_t n = 0;

	it_fresh_bucket(bucket);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "other/x", "x", 1, NULL), 200);
	snprintf(spec, sizeof(spec), "%s:/sub/dir", bucket);
	it_mount(&m, spec, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "f.txt"), content,
				       sizeof(content) - 1),
			 0);
	/* Only the prefix is visible: "other/" is outside it. */
	IT_ASSERT_ERRNO(access(it_path(&m, "other"), F_OK), ENOENT);
	IT_ASSERT_MSG(it_unmount(&m) == 0, "unclean unmount");

	assert_object(bucket, "sub/dir/f.txt", content, sizeof(content) - 1);
	keys = it_s3_list(bucket, "sub/", &n);
	IT_ASSERT(keys != NULL);
	IT_ASSERT_EQ_INT(n, 1);
	IT_ASSERT_EQ_STR(keys[0], "sub/dir/f.txt");
	it_strv_free(keys);
}

IT_TEST(test_nonexistent_bucket)
{
	char bucket[64];
	const char *mnt = it_mkdtemp("mnt");
	const char *pw = good_passwd();

	snprintf(bucket, sizeof(bucket), "it-nosuch-%ld", (long)getpid());
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "nonexistent bucket");
}

IT_TEST(test_unreachable_endpoint)
{
	char bucket[64];
	const char *mnt = it_mkdtemp("mnt");
	const char *pw = good_passwd();

	it_fresh_bucket(bucket);
	const char *args[] = {bucket, mnt, "-o",
			      opts_for("http://127.0.0.1:1", pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "unreachable endpoint");
}

IT_TEST(test_wrong_secret)
{
	char bucket[64], pw[4096];
	const char *mnt = it_mkdtemp("mnt");

	it_fresh_bucket(bucket);
	IT_SNPRINTF(pw, "%s/passwd", it_mkdtemp("pw"));
	it_write_passwd(pw, 0600, NULL, IT_WRONG_SECRET_KEY);
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "wrong secret");
}

IT_TEST(test_unknown_access_key)
{
	char bucket[64], pw[4096];
	const char *mnt = it_mkdtemp("mnt");

	it_fresh_bucket(bucket);
	IT_SNPRINTF(pw, "%s/passwd", it_mkdtemp("pw"));
	it_write_passwd(pw, 0600, "NOSUCHACCESSKEY00000", NULL);
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "unknown access key");
}

IT_TEST(test_unknown_option)
{
	char bucket[64];
	const char *mnt = it_mkdtemp("mnt");
	const char *pw = good_passwd();

	it_fresh_bucket(bucket);
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw,
				       "nosuchoption=1"),
			      NULL};
	assert_bad_input(args, mnt, "unknown option");
}

IT_TEST(test_passwd_file_too_open)
{
	char bucket[64], pw[4096];
	const char *mnt = it_mkdtemp("mnt");

	it_fresh_bucket(bucket);
	IT_SNPRINTF(pw, "%s/passwd", it_mkdtemp("pw"));
	it_write_passwd(pw, 0644, NULL, NULL);
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "passwd file mode 0644");
}

IT_TEST(test_missing_passwd_file)
{
	char bucket[64], pw[4096];
	const char *mnt = it_mkdtemp("mnt");

	it_fresh_bucket(bucket);
	IT_SNPRINTF(pw, "%s/no-such-passwd", it_mkdtemp("pw"));
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "missing passwd file");
}

IT_TEST(test_missing_mountpoint)
{
	char bucket[64], mnt[4096];
	const char *pw = good_passwd();

	it_fresh_bucket(bucket);
	IT_SNPRINTF(mnt, "%s/does-not-exist", it_mkdtemp("mnt"));
	const char *args[] = {bucket, mnt, "-o",
			      opts_for(NULL, pw, NULL),
			      NULL};
	assert_bad_input(args, mnt, "missing mountpoint");
}

IT_TEST(test_version)
{
	const char *args[] = {"--version", NULL};
	struct it_run_result r;

	it_run_mount_cmd(args, 10, &r);
	IT_ASSERT_MSG(r.exit_code == 0, "--version: exit %d, stderr: %s",
		      r.exit_code, r.err);
	IT_ASSERT_MSG(strstr(r.out, "etagfs") || strstr(r.err, "etagfs"),
		      "--version does not name etagfs: [%s] [%s]", r.out,
		      r.err);
}

IT_TEST(test_help)
{
	const char *args[] = {"--help", NULL};
	struct it_run_result r;

	it_run_mount_cmd(args, 10, &r);
	IT_ASSERT_MSG(r.exit_code == 0, "--help: exit %d, stderr: %s",
		      r.exit_code, r.err);
	IT_ASSERT_MSG(strstr(r.out, "endpoint") || strstr(r.err, "endpoint"),
		      "--help does not mention endpoint: [%s] [%s]", r.out,
		      r.err);
}
