/*
 * Security promises of the README, end to end:
 *  - TLS is verified by default (chain and host name); ca_file= adds a
 *    private CA. A throwaway CA, server certificates and an nginx that
 *    terminates TLS in front of the test RGW are made here.
 *  - No secret (secret key, session token, Authorization value) reaches
 *    the log, even with -d, where etagfs traces every request.
 *  - Credential files that others can read are refused; options that
 *    would put a secret on the command line do not exist.
 *  - allow_other is off unless asked; default_permissions makes the
 *    kernel check mode bits, without it etagfs does not.
 *
 * Besides harness mounts, some tests start etagfs themselves (own_mount)
 * because they need an environment without a passwd file; those and the
 * nginx are this file's children, cleaned up by begin() of the next test
 * and at exit.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define BAD_INPUT_LIMIT_MS 10000
#define MOUNT_WAIT_MS 10000
#define EXIT_WAIT_MS 20000
#define NOBODY 65534

static const char content[] = "secret-free content\n";

/* ------------------------------------------------ own children, cleanup */

/* The one etagfs this file started itself, if any. */
static pid_t own_pid = -1;
static char own_dir[PATH_MAX];
static char own_log[PATH_MAX];

/* nginx in front of RGW, started once, for all TLS tests. */
static struct {
	pid_t pid;
	char dir[PATH_MAX];
	char ca[PATH_MAX];
	int port_good;	/* certificate for 127.0.0.1 */
	int port_wrong; /* certificate for example.invalid, same CA */
} tls = {.pid = -1};

/* it_env.endpoint while a test points it at the TLS proxy. */
static char saved_endpoint[sizeof(it_env.endpoint)];

static int wait_pid_ms(pid_t pid, long ms, int *st)
{
	long deadline = it_now_ms() + ms;
	pid_t r;

	for (;;) {
		r = waitpid(pid, st, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (it_now_ms() >= deadline)
			return -1;
		usleep(10000);
	}
}

static void restore_endpoint(void)
{
	if (!saved_endpoint[0])
		return;
	memcpy(it_env.endpoint, saved_endpoint, sizeof(it_env.endpoint));
	saved_endpoint[0] = '\0';
}

static void reap_own_mount(void)
{
	int st, i;

	if (own_pid <= 0)
		return;
	for (i = 0; i < 20 && it_is_mounted(own_dir); i++) {
		if (umount2(own_dir, 0) == 0)
			break;
		usleep(100000);
	}
	if (it_is_mounted(own_dir))
		umount2(own_dir, MNT_DETACH);
	if (wait_pid_ms(own_pid, EXIT_WAIT_MS, &st) != 0) {
		kill(own_pid, SIGKILL);
		waitpid(own_pid, &st, 0);
	}
	own_pid = -1;
}

static void stop_nginx(void)
{
	int st;

	if (tls.pid <= 0)
		return;
	kill(tls.pid, SIGTERM);
	if (wait_pid_ms(tls.pid, 5000, &st) != 0) {
		kill(tls.pid, SIGKILL);
		waitpid(tls.pid, &st, 0);
	}
	tls.pid = -1;
}

static void at_exit_security(void)
{
	restore_endpoint();
	reap_own_mount();
	stop_nginx();
}

/* First call of every test: whatever a failed test before left behind
 * goes (the endpoint swap, an own mount). */
static void begin(void)
{
	static bool registered;

	if (!registered) {
		/* Registered after the harness's: runs before it. */
		atexit(at_exit_security);
		registered = true;
	}
	restore_endpoint();
	reap_own_mount();
}

/* -------------------------------------------------------------- helpers */

static void write_text(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t n = strlen(text);

	IT_ASSERT_MSG(fd >= 0, "creating %s: %s", path, strerror(errno));
	if (write(fd, text, n) != (ssize_t)n || fchmod(fd, mode) != 0) {
		close(fd);
		IT_FAIL("writing %s: %s", path, strerror(errno));
	}
	close(fd);
}

/* Run a tool (openssl) to completion: exit 0 within 20 s, or the test
 * fails with its output. */
static void run_tool(const char *const *argv, const char *log)
{
	pid_t pid;
	int fd, st = 0;

	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	IT_ASSERT_MSG(fd >= 0, "creating %s: %s", log, strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	IT_ASSERT_MSG(pid > 0, "fork: %s", strerror(errno));
	if (wait_pid_ms(pid, 20000, &st) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		IT_FAIL("%s: still running after 20 s", argv[0]);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *out = it_read_text(log, NULL);

		it_log("%s output:\n%s", argv[0], out);
		free(out);
		IT_FAIL("%s %s failed (%s %d)%s", argv[0], argv[1],
			WIFEXITED(st) ? "status" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
			WIFEXITED(st) && WEXITSTATUS(st) == 127 ?
				": not installed? (scripts/install-deps)" :
				"");
	}
}

/*
 * The contract for a mount that must not happen: non-zero exit by itself
 * within 10 s, exactly one line on stderr containing @needle (and @needle2
 * if not NULL) and no secret, no mount left behind. The line in @line.
 */
static void assert_refused(const char *const *args, const char *mnt,
			   const char *needle, const char *needle2,
			   const char *what, char *line, size_t line_len)
{
	struct it_run_result r;
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
	nl = strchr(r.err, '\n');
	IT_ASSERT_MSG(strlen(r.err) > 1 && nl && nl[1] == '\0',
		      "%s: want exactly one newline-terminated line on "
		      "stderr, got: [%s]",
		      what, r.err);
	IT_ASSERT_MSG(strstr(r.err, needle), "%s: stderr does not say '%s'",
		      what, needle);
	IT_ASSERT_MSG(!needle2 || strstr(r.err, needle2),
		      "%s: stderr does not say '%s'", what, needle2);
	IT_ASSERT_MSG(!strstr(r.err, it_env.secret_key),
		      "%s: the secret key is on stderr", what);
	IT_ASSERT_MSG(!it_is_mounted(mnt), "%s: %s left mounted", what, mnt);
	if (line)
		snprintf(line, line_len, "%s", r.err);
}

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

/* A 0600 passwd file with the test user's credentials, in a new dir. */
static const char *good_passwd(void)
{
	static char path[PATH_MAX];

	IT_SNPRINTF(path, "%s/passwd", it_mkdtemp("pw"));
	it_write_passwd(path, 0600, NULL, NULL);
	return path;
}

/*
 * The environment for an own etagfs: ours without any AWS_* variable
 * and HOME, plus @extra (NULL-terminated "NAME=value"). Static storage;
 * the strings are borrowed.
 */
static char *const *child_env(const char *const *extra)
{
	static char *env[1024];
	size_t n = 0;
	char **e;

	for (e = environ; *e && n < 1000; e++)
		if (strncmp(*e, "AWS_", 4) != 0 && strncmp(*e, "HOME=", 5) != 0)
			env[n++] = *e;
	for (; extra && *extra && n < 1023; extra++)
		env[n++] = (char *)*extra;
	env[n] = NULL;
	return env;
}

/*
 * "etagfs BUCKET MNT -f -d -o OPTS" with exactly @envp, stdout and stderr
 * to own_log (kept, like the harness's mount logs, for it_secrets_scan);
 * waits (10 s at most) for the mount. Fails the test with the log's end
 * if etagfs exits first.
 */
static void own_mount(const char *bucket, const char *opts,
		      char *const *envp)
{
	const char *argv[] = {it_env.bin, bucket, NULL, "-f", "-d", "-o",
			      opts, NULL};
	char name[NAME_MAX];
	long deadline;
	int fd, st;
	pid_t pid;

	IT_ASSERT_MSG(own_pid < 0, "own_mount: one at a time");
	snprintf(own_dir, sizeof(own_dir), "%s", it_mkdtemp("own"));
	IT_SNPRINTF(name, "%s.log", strrchr(own_dir, '/') + 1);
	it_kept_log_path(own_log, sizeof(own_log), name);
	argv[2] = own_dir;
	fd = open(own_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	IT_ASSERT_MSG(fd >= 0, "creating %s: %s", own_log, strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execve(argv[0], (char *const *)argv, envp);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	IT_ASSERT_MSG(pid > 0, "fork: %s", strerror(errno));
	own_pid = pid;
	deadline = it_now_ms() + MOUNT_WAIT_MS;
	while (!it_is_mounted(own_dir)) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			char *log = it_read_text(own_log, NULL);

			own_pid = -1;
			it_log("etagfs log:\n%s", log);
			free(log);
			IT_FAIL("etagfs %s -o %s exited (%d) before mounting",
				bucket, opts,
				WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		}
		IT_ASSERT_MSG(it_now_ms() < deadline,
			      "etagfs %s: no mount at %s after %d ms", bucket,
			      own_dir, MOUNT_WAIT_MS);
		usleep(10000);
	}
}

/* Unmount the own mount; 0 if etagfs then exited with status 0. */
static int own_unmount(void)
{
	int st = 0, i;
	pid_t pid = own_pid;

	for (i = 0; i < 20; i++) {
		if (umount2(own_dir, 0) == 0)
			break;
		usleep(100000);
	}
	if (i == 20) {
		it_log("%s busy: lazy unmount", own_dir);
		reap_own_mount();
		return -1;
	}
	if (wait_pid_ms(pid, EXIT_WAIT_MS, &st) != 0) {
		reap_own_mount();
		return -1;
	}
	own_pid = -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ------------------------------------------------------- TLS fixture */

static int free_port(int *sock_out)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	IT_ASSERT_MSG(s >= 0, "socket: %s", strerror(errno));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) != 0) {
		close(s);
		IT_FAIL("bind 127.0.0.1:0: %s", strerror(errno));
	}
	*sock_out = s; /* kept open until both ports are picked */
	return ntohs(a.sin_port);
}

static bool port_open(int port)
{
	struct sockaddr_in a;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (s < 0)
		return false;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

/* A key and a certificate for @name (SAN @san), signed by the test CA. */
static void make_cert(const char *name, const char *san, const char *key,
		      const char *crt)
{
	char subj[128], sanext[160], ca_key[PATH_MAX], log[PATH_MAX];

	IT_SNPRINTF(subj, "/CN=%s", name);
	IT_SNPRINTF(sanext, "subjectAltName=%s", san);
	IT_SNPRINTF(ca_key, "%s/ca.key", tls.dir);
	IT_SNPRINTF(log, "%s/openssl.log", tls.dir);
	const char *argv[] = {"openssl", "req", "-x509", "-newkey", "ec",
			      "-pkeyopt", "ec_paramgen_curve:prime256v1",
			      "-nodes", "-keyout", key, "-out", crt,
			      "-days", "2", "-subj", subj,
			      "-CA", tls.ca, "-CAkey", ca_key,
			      "-addext", sanext,
			      "-addext", "basicConstraints=critical,CA:FALSE",
			      "-addext", "extendedKeyUsage=serverAuth",
			      NULL};
	run_tool(argv, log);
}

static void write_nginx_conf(const char *conf, int rgw_port)
{
	FILE *f = fopen(conf, "we");
	static const char *const names[2] = {"good", "wrong"};
	int ports[2] = {tls.port_good, tls.port_wrong};
	int i;

	IT_ASSERT_MSG(f != NULL, "creating %s: %s", conf, strerror(errno));
	fprintf(f,
		"daemon off;\n"
		"master_process off;\n"
		"worker_processes 1;\n"
		"pid %s/nginx.pid;\n"
		"error_log %s/error.log info;\n"
		"events { worker_connections 256; }\n"
		"http {\n"
		"\taccess_log off;\n"
		"\tclient_body_temp_path %s/body;\n"
		"\tproxy_temp_path %s/proxy;\n"
		"\tfastcgi_temp_path %s/fastcgi;\n"
		"\tuwsgi_temp_path %s/uwsgi;\n"
		"\tscgi_temp_path %s/scgi;\n",
		tls.dir, tls.dir, tls.dir, tls.dir, tls.dir, tls.dir, tls.dir);
	for (i = 0; i < 2; i++)
		/* SigV4 signs Host and the body: both pass unchanged. */
		fprintf(f,
			"\tserver {\n"
			"\t\tlisten 127.0.0.1:%d ssl;\n"
			"\t\tssl_certificate %s/%s.crt;\n"
			"\t\tssl_certificate_key %s/%s.key;\n"
			"\t\tclient_max_body_size 0;\n"
			"\t\tlocation / {\n"
			"\t\t\tproxy_pass http://127.0.0.1:%d;\n"
			"\t\t\tproxy_set_header Host $http_host;\n"
			"\t\t\tproxy_http_version 1.1;\n"
			"\t\t\tproxy_set_header Connection \"\";\n"
			"\t\t\tproxy_request_buffering off;\n"
			"\t\t\tproxy_buffering off;\n"
			"\t\t}\n"
			"\t}\n",
			ports[i], tls.dir, names[i], tls.dir, names[i],
			rgw_port);
	fprintf(f, "}\n");
	IT_ASSERT_MSG(fclose(f) == 0, "writing %s", conf);
}

/*
 * Once per run: a CA, a certificate for 127.0.0.1 and one for
 * example.invalid, and nginx serving each on a free port in front of
 * the RGW.
 */
static void tls_up(void)
{
	char ca_key[PATH_MAX], conf[PATH_MAX], errlog[PATH_MAX], out[PATH_MAX];
	char key[PATH_MAX], crt[PATH_MAX], log[PATH_MAX];
	const char *colon;
	char *end = NULL;
	long rgw_port, deadline;
	int s1 = -1, s2 = -1, st;
	pid_t pid;

	if (tls.pid > 0 && waitpid(tls.pid, &st, WNOHANG) == 0)
		return;
	tls.pid = -1;
	snprintf(tls.dir, sizeof(tls.dir), "%s", it_mkdtemp("tls"));
	IT_SNPRINTF(tls.ca, "%s/ca.pem", tls.dir);
	IT_SNPRINTF(ca_key, "%s/ca.key", tls.dir);
	IT_SNPRINTF(log, "%s/openssl.log", tls.dir);
	const char *ca_argv[] = {"openssl", "req", "-x509", "-newkey", "ec",
				 "-pkeyopt", "ec_paramgen_curve:prime256v1",
				 "-nodes", "-keyout", ca_key, "-out", tls.ca,
				 "-days", "2", "-subj", "/CN=etagfs-it test CA",
				 "-addext", "basicConstraints=critical,CA:TRUE",
				 "-addext",
				 "keyUsage=critical,keyCertSign,cRLSign",
				 NULL};
	run_tool(ca_argv, log);
	IT_SNPRINTF(key, "%s/good.key", tls.dir);
	IT_SNPRINTF(crt, "%s/good.crt", tls.dir);
	make_cert("127.0.0.1", "IP:127.0.0.1", key, crt);
	IT_SNPRINTF(key, "%s/wrong.key", tls.dir);
	IT_SNPRINTF(crt, "%s/wrong.crt", tls.dir);
	make_cert("example.invalid", "DNS:example.invalid", key, crt);

	/* http://127.0.0.1:PORT */
	colon = strrchr(it_env.endpoint, ':');
	IT_ASSERT_MSG(colon && strncmp(it_env.endpoint, "http://", 7) == 0,
		      "RGW endpoint %s is not http://HOST:PORT",
		      it_env.endpoint);
	rgw_port = strtol(colon + 1, &end, 10);
	IT_ASSERT_MSG(*end == '\0' && rgw_port > 0 && rgw_port < 65536,
		      "RGW endpoint %s: no port", it_env.endpoint);
	tls.port_good = free_port(&s1);
	tls.port_wrong = free_port(&s2);
	close(s1);
	close(s2);
	IT_SNPRINTF(conf, "%s/nginx.conf", tls.dir);
	IT_SNPRINTF(errlog, "%s/error.log", tls.dir);
	IT_SNPRINTF(out, "%s/nginx.out", tls.dir);
	write_nginx_conf(conf, (int)rgw_port);

	const char *argv[] = {"nginx", "-e", errlog, "-p", tls.dir, "-c", conf,
			      NULL};
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	IT_ASSERT_MSG(fd >= 0, "creating %s: %s", out, strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		/* Never outlive the test program, whatever ends it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp("nginx", (char *const *)argv);
		execv("/usr/sbin/nginx", (char *const *)argv);
		dprintf(2, "exec nginx: %s\n", strerror(errno));
		_exit(127);
	}
	close(fd);
	IT_ASSERT_MSG(pid > 0, "fork: %s", strerror(errno));
	tls.pid = pid;
	deadline = it_now_ms() + 5000;
	while (!port_open(tls.port_good) || !port_open(tls.port_wrong)) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			char *o = it_read_text(out, NULL);

			tls.pid = -1;
			it_log("nginx output:\n%s", o);
			free(o);
			IT_FAIL("nginx exited (%d) before listening%s",
				WIFEXITED(st) ? WEXITSTATUS(st) : -1,
				WIFEXITED(st) && WEXITSTATUS(st) == 127 ?
					": not installed? "
					"(scripts/install-deps)" :
					"");
		}
		if (it_now_ms() >= deadline) {
			stop_nginx();
			IT_FAIL("nginx not listening on %d and %d after 5 s",
				tls.port_good, tls.port_wrong);
		}
		usleep(10000);
	}
	it_log("nginx (pid %d): https on %d (127.0.0.1) and %d "
	       "(example.invalid) -> RGW port %ld",
	       (int)pid, tls.port_good, tls.port_wrong, rgw_port);
}

/* ------------------------------------------------------------ 1. TLS */

/* A private CA the system does not know: refused, and the one line says
 * it is about the certificate. */
IT_TEST(test_tls_unknown_ca_refused)
{
	char bucket[64], opts[1024], line[1024];
	const char *mnt, *pw;
	char **keys;
	size_t n = 99;

	begin();
	tls_up();
	it_fresh_bucket(bucket);
	mnt = it_mkdtemp("mnt");
	pw = good_passwd();
	IT_SNPRINTF(opts, "endpoint=https://127.0.0.1:%d,region=%s,"
			  "passwd_file=%s",
		    tls.port_good, it_env.region, pw);
	const char *args[] = {bucket, mnt, "-o", opts, NULL};

	assert_refused(args, mnt, "certificate", NULL, "no ca_file", line,
		       sizeof(line));
	/* The reason, not just the word: the issuer is unknown. */
	IT_ASSERT_MSG(strstr(line, "issuer"), "no 'issuer' in: %s", line);
	/* Refused before anything was written (no probe object). */
	keys = it_s3_list(bucket, NULL, &n);
	IT_ASSERT(keys != NULL);
	it_strv_free(keys);
	IT_ASSERT_EQ_INT(n, 0);
}

/* With ca_file= the same server is trusted: the mount works through TLS
 * and what is written lands byte-exact (checked on RGW directly). */
IT_TEST(test_tls_ca_file_mounts)
{
	static unsigned char data[200 * 1024];
	char bucket[64], extra[PATH_MAX + 32];
	struct it_mount m;
	void *back = NULL;
	size_t back_len = 0;
	char *log;

	begin();
	tls_up();
	it_fresh_bucket(bucket);
	IT_SNPRINTF(extra, "ca_file=%s", tls.ca);
	memcpy(saved_endpoint, it_env.endpoint, sizeof(saved_endpoint));
	snprintf(it_env.endpoint, sizeof(it_env.endpoint),
		 "https://127.0.0.1:%d", tls.port_good);
	it_mount(&m, bucket, extra);
	/* The independent client goes to RGW directly again. */
	restore_endpoint();

	it_random_bytes(data, sizeof(data), 6001);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "tls.bin"), data,
				       sizeof(data)),
			 0);
	assert_object(bucket, "tls.bin", data, sizeof(data));
	IT_ASSERT_EQ_INT(it_read_file(it_path(&m, "tls.bin"), &back,
				      &back_len),
			 0);
	IT_ASSERT_EQ_INT(back_len, sizeof(data));
	IT_ASSERT_MEM(back, data, sizeof(data));
	free(back);
	IT_ASSERT_MSG(it_unmount(&m) == 0, "unclean unmount");

	/* It really went through TLS: the mount line names the endpoint. */
	log = it_read_text(m.log, NULL);
	IT_ASSERT_MSG(strstr(log, "(endpoint https://127.0.0.1:"),
		      "mount log does not name the https endpoint:\n%s", log);
	free(log);
}

/* Right CA, wrong name: host name verification refuses it. */
IT_TEST(test_tls_wrong_host_name_refused)
{
	char bucket[64], opts[2048], line[1024];
	const char *mnt, *pw;

	begin();
	tls_up();
	it_fresh_bucket(bucket);
	mnt = it_mkdtemp("mnt");
	pw = good_passwd();
	IT_SNPRINTF(opts, "endpoint=https://127.0.0.1:%d,region=%s,"
			  "passwd_file=%s,ca_file=%s",
		    tls.port_wrong, it_env.region, pw, tls.ca);
	const char *args[] = {bucket, mnt, "-o", opts, NULL};

	/* curl: "...subject name matches target host name '127.0.0.1'" */
	assert_refused(args, mnt, "certificate", "host name",
		       "certificate for example.invalid", line, sizeof(line));
	IT_ASSERT_MSG(!strstr(line, "issuer"),
		      "the CA was given, yet the issuer is blamed: %s", line);
	/* And the good port with the same options mounts (control). */
	IT_SNPRINTF(opts, "endpoint=https://127.0.0.1:%d,region=%s,"
			  "passwd_file=%s,ca_file=%s",
		    tls.port_good, it_env.region, pw, tls.ca);
	own_mount(bucket, opts, child_env(NULL));
	IT_ASSERT_MSG(own_unmount() == 0, "unclean unmount");
}

/* ---------------------------------------------------- 2. secrets in logs */

/* Lines of @log containing @needle (case-insensitive). */
static int count_lines_with(const char *log, const char *needle)
{
	const char *p = log, *hit;
	int n = 0;

	while ((hit = strcasestr(p, needle)) != NULL) {
		const char *nl = strchr(hit, '\n');

		n++;
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

/* Create/write/close, read, ls, rename, chmod, a conflict, unlink, a
 * miss: every kind of request etagfs makes on a mount. */
static void exercise(const char *mnt, const char *bucket)
{
	static const char theirs[] = "written by someone else\n";
	char a[PATH_MAX], b[PATH_MAX];
	void *back = NULL;
	size_t back_len = 0;
	struct dirent *de;
	struct stat sb;
	bool seen = false;
	DIR *dir;
	int fd;

	IT_SNPRINTF(a, "%s/a.txt", mnt);
	IT_SNPRINTF(b, "%s/b.txt", mnt);
	IT_ASSERT_EQ_INT(it_write_file(a, content, sizeof(content) - 1), 0);
	IT_ASSERT_EQ_INT(it_read_file(a, &back, &back_len), 0);
	IT_ASSERT_EQ_INT(back_len, sizeof(content) - 1);
	IT_ASSERT_MEM(back, content, sizeof(content) - 1);
	free(back);
	dir = opendir(mnt);
	IT_ASSERT_MSG(dir != NULL, "opendir %s: %s", mnt, strerror(errno));
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, "a.txt") == 0)
			seen = true;
	closedir(dir);
	IT_ASSERT_MSG(seen, "a.txt not listed");
	IT_ASSERT_OK(rename(a, b));
	IT_ASSERT_OK(chmod(b, 0600));
	IT_ASSERT_OK(stat(b, &sb));
	IT_ASSERT_EQ_INT(sb.st_mode & 07777, 0600);
	/* A conflict: the server's object changes under an open handle. */
	fd = open(b, O_RDWR);
	IT_ASSERT_OK(fd);
	IT_ASSERT_EQ_INT(it_s3_put(bucket, "b.txt", theirs, sizeof(theirs) - 1,
				   NULL),
			 200);
	IT_ASSERT_EQ_INT(pwrite(fd, "mine", 4, 0), 4);
	IT_ASSERT_ERRNO(close(fd), EBUSY);
	IT_ASSERT_OK(unlink(b));
	IT_ASSERT_ERRNO(stat(a, &sb), ENOENT);
}

/*
 * Credentials from the environment with a session token, at -d: every
 * request is traced with its headers, and neither the secret key nor
 * the token nor any part of the signature is in the log.
 * (RGW 16.2 without STS ignores x-amz-security-token for a plain user's
 * key, so this mount works and the whole set of operations runs.)
 */
IT_TEST(test_debug_log_no_secrets_env_token)
{
	char bucket[64], opts[1024], home[PATH_MAX], req_line[160];
	char ak[200], sk[200], tok[200], homevar[PATH_MAX + 8];
	char *log;
	size_t len = 0;

	begin();
	it_fresh_bucket(bucket);
	IT_SNPRINTF(home, "%s", it_mkdtemp("home"));
	IT_SNPRINTF(homevar, "HOME=%s", home);
	IT_SNPRINTF(ak, "AWS_ACCESS_KEY_ID=%s", it_env.access_key);
	IT_SNPRINTF(sk, "AWS_SECRET_ACCESS_KEY=%s", it_env.secret_key);
	IT_SNPRINTF(tok, "AWS_SESSION_TOKEN=%s", IT_FAKE_SESSION_TOKEN);
	const char *extra[] = {homevar, ak, sk, tok, NULL};

	IT_SNPRINTF(opts, "endpoint=%s,region=%s,attr_ttl=0,dir_ttl=0",
		    it_env.endpoint, it_env.region);
	own_mount(bucket, opts, child_env(extra));
	exercise(own_dir, bucket);
	IT_ASSERT_MSG(own_unmount() == 0, "unclean unmount");

	log = it_read_text(own_log, &len);
	it_log("log: %zu bytes, %d traced requests", len,
	       count_lines_with(log, "x-amz-date:"));
	/* The search below means something only if the log traces the
	 * requests and their headers. */
	IT_ASSERT_MSG(strstr(log, "credentials from environment"),
		      "the log does not say where the credentials came from");
	IT_SNPRINTF(req_line, "> PUT /%s/a.txt HTTP/1.1", bucket);
	IT_ASSERT_MSG(strstr(log, req_line), "no request line '%s' in the log",
		      req_line);
	IT_ASSERT_MSG(count_lines_with(log, "x-amz-date:") >= 8,
		      "fewer than 8 traced requests in the log");
	IT_ASSERT_MSG(count_lines_with(log, "x-amz-security-token") >= 8,
		      "the token header is not traced (so it was not sent, "
		      "or not traced): the search would be vacuous");
	IT_ASSERT_MSG(count_lines_with(log, "authorization") >= 8,
		      "the Authorization header is not traced");
	/* ... to the end of the session (the unlink). */
	IT_SNPRINTF(req_line, "> DELETE /%s/b.txt HTTP/1.1", bucket);
	IT_ASSERT_MSG(strstr(log, req_line), "no request line '%s' in the log",
		      req_line);
	it_assert_no_secrets(log, own_log);
	free(log);
}

/* The same with a passwd file and the harness's mount (-d too). */
IT_TEST(test_debug_log_no_secrets_passwd_file)
{
	char bucket[64];
	struct it_mount m;
	char *log;

	begin();
	it_fresh_bucket(bucket);
	it_mount(&m, bucket, "attr_ttl=0,dir_ttl=0");
	exercise(it_path(&m, NULL), bucket);
	IT_ASSERT_MSG(it_unmount(&m) == 0, "unclean unmount");

	log = it_read_text(m.log, NULL);
	IT_ASSERT_MSG(strstr(log, m.passwd), "the log does not name %s",
		      m.passwd);
	IT_ASSERT_MSG(count_lines_with(log, "x-amz-date:") >= 8,
		      "fewer than 8 traced requests in the log");
	IT_ASSERT_MSG(count_lines_with(log, "authorization") >= 8,
		      "the Authorization header is not traced");
	it_assert_no_secrets(log, m.log);
	free(log);
}

/* ------------------------------------------------- 3. credential files */

/* Group- or other-accessible passwd files: refused, naming the file and
 * the fix. (0644 is in it_mount.) */
IT_TEST(test_passwd_file_modes_refused)
{
	static const mode_t modes[] = {0640, 0604, 0620, 0602};
	char bucket[64], pw[PATH_MAX], fix[PATH_MAX + 16], mode_s[32];
	char opts[PATH_MAX + 256];
	size_t i;

	begin();
	it_fresh_bucket(bucket);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		const char *mnt = it_mkdtemp("mnt");

		IT_SNPRINTF(pw, "%s/passwd", it_mkdtemp("pw"));
		it_write_passwd(pw, modes[i], NULL, NULL);
		IT_SNPRINTF(fix, "chmod 600 %s", pw);
		IT_SNPRINTF(mode_s, "mode %04o", (unsigned)modes[i]);
		IT_SNPRINTF(opts, "endpoint=%s,region=%s,passwd_file=%s",
			    it_env.endpoint, it_env.region, pw);
		const char *args[] = {bucket, mnt, "-o", opts, NULL};

		assert_refused(args, mnt, fix, mode_s, mode_s, NULL, 0);
	}
}

/*
 * ~/.aws/credentials holds a secret key, like a passwd file: readable by
 * group or others, it is refused with the one line that says how to fix
 * it; made private, the same file mounts (and -d says it was used).
 */
IT_TEST(test_aws_credentials_too_open_refused)
{
	char bucket[64], home[PATH_MAX], path[PATH_MAX + 32], fix[PATH_MAX + 48];
	char homevar[PATH_MAX + 8], text[512], opts[1024], src[PATH_MAX + 64];
	char file[PATH_MAX + 8], *saved_home;
	const char *mnt = it_mkdtemp("mnt");
	char *log;

	begin();
	it_fresh_bucket(bucket);
	IT_SNPRINTF(home, "%s", it_mkdtemp("home"));
	IT_SNPRINTF(path, "%s/.aws", home);
	IT_ASSERT_OK(mkdir(path, 0755));
	IT_SNPRINTF(path, "%s/.aws/credentials", home);
	IT_SNPRINTF(text,
		    "[default]\naws_access_key_id = %s\n"
		    "aws_secret_access_key = %s\n",
		    it_env.access_key, it_env.secret_key);
	write_text(path, 0644, text);
	IT_SNPRINTF(opts, "endpoint=%s,region=%s", it_env.endpoint,
		    it_env.region);

	/* it_run_mount_cmd() runs etagfs with our environment: HOME points
	 * at the file, and no AWS_* variable may answer instead of it. */
	saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	for (char **e = environ; *e;) {
		if (strncmp(*e, "AWS_", 4) == 0) {
			char name[128];

			IT_SNPRINTF(name, "%.*s", (int)strcspn(*e, "="), *e);
			unsetenv(name);
			e = environ;
		} else {
			e++;
		}
	}
	IT_ASSERT_OK(setenv("HOME", home, 1));
	{
		const char *args[] = {bucket, mnt, "-o", opts, NULL};

		IT_SNPRINTF(fix, "chmod 600 %s", path);
		assert_refused(args, mnt, fix, "mode 0644", "credentials 0644",
			       NULL, 0);
	}
	if (saved_home)
		setenv("HOME", saved_home, 1);
	else
		unsetenv("HOME");
	free(saved_home);

	IT_ASSERT_OK(chmod(path, 0600));
	IT_SNPRINTF(homevar, "HOME=%s", home);
	const char *extra[] = {homevar, NULL};

	IT_SNPRINTF(opts, "endpoint=%s,region=%s", it_env.endpoint,
		    it_env.region);
	own_mount(bucket, opts, child_env(extra));
	IT_SNPRINTF(file, "%s/c.txt", own_dir);
	IT_ASSERT_EQ_INT(it_write_file(file, content, sizeof(content) - 1), 0);
	IT_ASSERT_MSG(own_unmount() == 0, "unclean unmount");
	assert_object(bucket, "c.txt", content, sizeof(content) - 1);
	log = it_read_text(own_log, NULL);
	IT_SNPRINTF(src, "credentials from %s (profile default)", path);
	IT_ASSERT_MSG(strstr(log, src), "the log does not say '%s'", src);
	it_assert_no_secrets(log, own_log);
	free(log);
}

/*
 * An endpoint with user:password@ is refused with one line that does not
 * echo it: the password would otherwise reach every log that names the
 * endpoint.
 */
IT_TEST(test_endpoint_with_password_refused)
{
	char bucket[64], opts[PATH_MAX + 512], pw[PATH_MAX];
	const char *mnt = it_mkdtemp("mnt");
	const char *hostport = strstr(it_env.endpoint, "://");

	begin();
	IT_ASSERT(hostport != NULL);
	it_fresh_bucket(bucket);
	IT_SNPRINTF(pw, "%s/passwd", it_mkdtemp("pw"));
	it_write_passwd(pw, 0600, NULL, NULL);
	IT_SNPRINTF(opts, "endpoint=http://%s:%s@%s,region=%s,passwd_file=%s",
		    it_env.access_key, it_env.secret_key, hostport + 3,
		    it_env.region, pw);
	const char *args[] = {bucket, mnt, "-o", opts, NULL};

	assert_refused(args, mnt, "must not contain a user name or password",
		       NULL, "endpoint with user:password@", NULL, 0);
}

/*
 * No option carries a secret: the spellings other tools use are unknown
 * options, so the mount is refused (the secret has no way in but files
 * and the environment).
 */
IT_TEST(test_secret_options_rejected)
{
	static const char *const keys[] = {
		"secret_key", "secret_access_key", "aws_secret_access_key",
		"access_key", "aws_access_key_id", "session_token",
		"aws_session_token", "password"};
	char bucket[64], opts[PATH_MAX + 512], bad[128];
	const char *pw;
	size_t i;

	begin();
	it_fresh_bucket(bucket);
	pw = good_passwd();
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *mnt = it_mkdtemp("mnt");

		IT_SNPRINTF(bad, "%s=", keys[i]);
		IT_SNPRINTF(opts, "endpoint=%s,region=%s,passwd_file=%s,%s%s",
			    it_env.endpoint, it_env.region, pw, bad,
			    it_env.secret_key);
		const char *args[] = {bucket, mnt, "-o", opts, NULL};
		struct it_run_result r;
		char *nl;

		it_run_mount_cmd(args, 20, &r);
		IT_ASSERT_MSG(!r.timed_out && r.exit_code > 0,
			      "-o %s...: exit %d, want refused", bad,
			      r.exit_code);
		IT_ASSERT_MSG(r.elapsed_ms <= BAD_INPUT_LIMIT_MS,
			      "-o %s...: took %ld ms", bad, r.elapsed_ms);
		IT_ASSERT_MSG(!it_is_mounted(mnt), "-o %s...: mounted", bad);
		/* One line naming the option, never echoing the secret
		 * (from fstab or systemd it would land in the journal). */
		nl = strchr(r.err, '\n');
		IT_ASSERT_MSG(nl && nl[1] == '\0' && strstr(r.err, keys[i]) &&
				      !strstr(r.err, it_env.secret_key),
			      "-o %s...: want one line naming the option "
			      "without its value, got [%s]",
			      bad, r.err);
	}
}

/* ----------------------------------------------- 4. who may access */

enum probe_op {
	PROBE_STAT_ROOT, /* fstat of the mount's root */
	PROBE_STAT,	 /* stat of @rel */
	PROBE_READ,	 /* open O_RDONLY + read @rel, compare with @want */
	PROBE_WRITE,	 /* open O_WRONLY of @rel, close without writing */
};

#define PROBE_MISMATCH 250
#define PROBE_NOT_NOBODY 251

/*
 * In a child running as uid and gid 65534 (no groups), do @op on @rel in
 * @m. The mount's root is opened here, as root, so the scratch dir's own
 * mode (0700) does not stand in the way: only FUSE's answer counts.
 * Returns 0 on success, the errno of the failed call, or PROBE_*.
 */
static int as_nobody(const struct it_mount *m, enum probe_op op,
		     const char *rel, const char *want)
{
	char buf[256];
	struct stat sb;
	pid_t pid;
	int dfd, st = 0;

	dfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	IT_ASSERT_MSG(dfd >= 0, "open %s: %s", m->dir, strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		ssize_t n;
		int fd;

		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
		    setuid(NOBODY) != 0 || getuid() != NOBODY ||
		    geteuid() != NOBODY)
			_exit(PROBE_NOT_NOBODY);
		switch (op) {
		case PROBE_STAT_ROOT:
			_exit(fstat(dfd, &sb) == 0 ? 0 : errno);
		case PROBE_STAT:
			_exit(fstatat(dfd, rel, &sb, 0) == 0 ? 0 : errno);
		case PROBE_WRITE:
			fd = openat(dfd, rel, O_WRONLY);
			if (fd < 0)
				_exit(errno);
			_exit(0); /* exit closes without writing */
		case PROBE_READ:
			fd = openat(dfd, rel, O_RDONLY);
			if (fd < 0)
				_exit(errno);
			n = read(fd, buf, sizeof(buf));
			if (n < 0)
				_exit(errno);
			if ((size_t)n != strlen(want) ||
			    memcmp(buf, want, (size_t)n) != 0)
				_exit(PROBE_MISMATCH);
			_exit(0);
		}
		_exit(PROBE_MISMATCH);
	}
	close(dfd);
	IT_ASSERT_MSG(pid > 0, "fork: %s", strerror(errno));
	IT_ASSERT_MSG(wait_pid_ms(pid, 30000, &st) == 0,
		      "probe as uid %d hung", NOBODY);
	IT_ASSERT_MSG(WIFEXITED(st), "probe killed by signal %d",
		      WTERMSIG(st));
	IT_ASSERT_MSG(WEXITSTATUS(st) != PROBE_NOT_NOBODY,
		      "cannot become uid %d", NOBODY);
	return WEXITSTATUS(st);
}

static bool need_root(void)
{
	if (geteuid() == 0)
		return true;
	/* Switching uid needs root; nothing else can stand in for it. */
	it_log("not root: cannot act as another user, nothing checked");
	return false;
}

/* Without allow_other, FUSE refuses every other user, even stat. */
IT_TEST(test_no_allow_other_denies_others)
{
	char bucket[64];
	struct it_mount m;
	struct stat sb;

	begin();
	if (!need_root())
		return;
	it_fresh_bucket(bucket);
	it_mount(&m, bucket, NULL);
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "f"), content,
				       sizeof(content) - 1),
			 0);
	IT_ASSERT_OK(stat(it_path(&m, "f"), &sb)); /* the owner can */
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_STAT_ROOT, NULL, NULL), EACCES);
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_STAT, "f", NULL), EACCES);
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_READ, "f", content), EACCES);
	IT_ASSERT_MSG(it_unmount(&m) == 0, "unclean unmount");
}

/*
 * allow_other lets others in; without default_permissions etagfs checks
 * no mode bits: a root-owned 0600 file is readable, even writable
 * (opened), by uid 65534. That is why the README says to add
 * default_permissions.
 */
IT_TEST(test_allow_other_without_default_permissions)
{
	char bucket[64];
	struct it_mount m;
	struct stat sb;

	begin();
	if (!need_root())
		return;
	it_fresh_bucket(bucket);
	it_mount(&m, bucket, "allow_other");
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "f"), content,
				       sizeof(content) - 1),
			 0);
	IT_ASSERT_OK(chmod(it_path(&m, "f"), 0600));
	IT_ASSERT_OK(stat(it_path(&m, "f"), &sb));
	IT_ASSERT_EQ_INT(sb.st_uid, 0);
	IT_ASSERT_EQ_INT(sb.st_mode & 07777, 0600);
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_STAT_ROOT, NULL, NULL), 0);
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_STAT, "f", NULL), 0);
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_READ, "f", content), 0);
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_WRITE, "f", NULL), 0);
	IT_ASSERT_MSG(it_unmount(&m) == 0, "unclean unmount");
	/* The open for writing wrote nothing. */
	assert_object(bucket, "f", content, sizeof(content) - 1);
}

/* allow_other,default_permissions: the kernel enforces the mode bits. */
IT_TEST(test_allow_other_default_permissions_enforced)
{
	char bucket[64];
	struct it_mount m;

	begin();
	if (!need_root())
		return;
	it_fresh_bucket(bucket);
	it_mount(&m, bucket, "allow_other,default_permissions");
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "private"), content,
				       sizeof(content) - 1),
			 0);
	IT_ASSERT_OK(chmod(it_path(&m, "private"), 0600));
	IT_ASSERT_EQ_INT(it_write_file(it_path(&m, "public"), content,
				       sizeof(content) - 1),
			 0);
	IT_ASSERT_OK(chmod(it_path(&m, "public"), 0644));
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_STAT, "private", NULL), 0);
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_READ, "private", content),
			 EACCES);
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_WRITE, "private", NULL), EACCES);
	/* Control: what the mode allows works. */
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_READ, "public", content), 0);
	IT_ASSERT_EQ_INT(as_nobody(&m, PROBE_WRITE, "public", NULL), EACCES);
	IT_ASSERT_MSG(it_unmount(&m) == 0, "unclean unmount");
}
