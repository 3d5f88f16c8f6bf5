/*
 * Credential files: s3fs passwd files and the INI files of the AWS CLI
 * (~/.aws/credentials, ~/.aws/config), read through the public loaders
 * of creds.h from files in a private temporary directory.
 *
 * Input: a selector byte, then the file text. The selector picks the
 * profile (and bucket) asked for; with selector 3 the first line of the
 * text names them. The same text is written as the passwd file (mode
 * 0600), the credentials file and the config file, and $HOME's
 * .passwd-etagfs is a link to the passwd file, so that every step of
 * s3_creds_load() reads it.
 *
 * Properties: results are the documented errnos; keys found are
 * non-empty and trimmed; the error text is NUL-terminated and never
 * contains the secret key that was found.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "s3/creds.h"

static char dir[64];
static char passwd_path[128];
static char cred_path[128];
static char config_path[128];

static void fail_setup(const char *what)
{
	perror(what);
	abort();
}

/* At exit (libFuzzer exits normally at the end of its time). */
static void remove_dir(void)
{
	char link_path[160];

	snprintf(link_path, sizeof(link_path), "%s/.passwd-etagfs", dir);
	unlink(link_path);
	unlink(passwd_path);
	unlink(cred_path);
	unlink(config_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char link_path[160];
	static const char *const unset[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_S3", NULL};

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/etagfs-fuzz-creds-XXXXXX", base);
	if (!mkdtemp(dir))
		fail_setup("mkdtemp");
	snprintf(passwd_path, sizeof(passwd_path), "%s/passwd", dir);
	snprintf(cred_path, sizeof(cred_path), "%s/credentials", dir);
	snprintf(config_path, sizeof(config_path), "%s/config", dir);
	snprintf(link_path, sizeof(link_path), "%s/.passwd-etagfs", dir);
	atexit(remove_dir);
	if (symlink(passwd_path, link_path) < 0)
		fail_setup("symlink");
	for (const char *const *v = unset; *v; v++)
		unsetenv(*v);
	/* Nothing of the machine's own: $HOME is the private directory. */
	setenv("HOME", dir, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cred_path, 1);
	/* "~/config": exercises the expansion of '~'. */
	setenv("AWS_CONFIG_FILE", "~/config", 1);
	return 0;
}

static void write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		fail_setup(path);
	while (len > 0) {
		ssize_t w = write(fd, text, len);

		if (w <= 0)
			fail_setup("write");
		text += w;
		len -= (size_t)w;
	}
	close(fd);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	       c == '\v';
}

static void check_trimmed(const char *s)
{
	size_t n;

	fuzz_assert(s != NULL);
	n = strlen(s);
	fuzz_assert(n > 0);
	fuzz_assert(!is_space(s[0]) && !is_space(s[n - 1]));
}

/*
 * The secret must not be in the message. Only a secret that the message
 * could not contain by innocent means is checked: one with a byte no
 * message template, path or errno text has, and that is not part of the
 * profile or bucket name (which messages do quote).
 */
static void check_err(int rc, const char *err, size_t err_len,
		      const struct s3_creds *c, const char *name)
{
	bool odd = false;

	/* The sentence is promised on failure; a success may leave the
	 * buffer alone (s3_creds_load_passwd_file() does). */
	if (rc)
		fuzz_assert(memchr(err, '\0', err_len) && err[0]);
	if (!memchr(err, '\0', err_len) || !c->secret_key)
		return;
	for (const char *s = c->secret_key; *s; s++)
		odd = odd || (unsigned char)*s < 0x20 ||
		      (unsigned char)*s >= 0x7f;
	if (odd && strlen(c->secret_key) >= 4 &&
	    !(name && strstr(name, c->secret_key)))
		fuzz_assert(strstr(err, c->secret_key) == NULL);
}

static void check_creds(int rc, const struct s3_creds *c, bool from_passwd,
			bool trimmed)
{
	fuzz_assert(rc == 0 || rc == -ENOENT || rc == -EACCES ||
		    rc == -EINVAL || rc == -ENOMEM || rc == -EIO);
	if (rc) {
		fuzz_assert(!c->access_key && !c->secret_key &&
			    !c->session_token && !c->source);
		return;
	}
	fuzz_assert(c->access_key && c->secret_key);
	if (trimmed) {
		check_trimmed(c->access_key);
		check_trimmed(c->secret_key);
		if (c->session_token)
			check_trimmed(c->session_token);
	}
	fuzz_assert(c->source != NULL);
	if (from_passwd)
		fuzz_assert(!strchr(c->access_key, ':') &&
			    !strchr(c->secret_key, ':'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const profiles[] = {NULL, "rgw", "a b"};
	struct s3_creds_query q;
	struct s3_creds c;
	struct s3_profile_settings ps;
	char *name = NULL;
	const char *text;
	size_t len;
	char err[512];
	int rc;

	if (size == 0)
		return 0;
	text = (const char *)data + 1;
	len = size - 1;
	if ((data[0] & 3) == 3) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;

		name = strndup(text, n);
		if (!name)
			return 0;
		text += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
	}
	write_file(passwd_path, text, len);
	write_file(cred_path, text, len);
	write_file(config_path, text, len);

	memset(err, 0x5a, sizeof(err));
	rc = s3_creds_load_passwd_file(passwd_path,
				       name ? name : profiles[data[0] & 3], &c,
				       err, sizeof(err));
	check_creds(rc, &c, true, true);
	check_err(rc, err, sizeof(err), &c, name);
	s3_creds_free(&c);

	memset(&q, 0, sizeof(q));
	q.profile = name ? name : profiles[data[0] & 3];
	q.bucket = q.profile;
	memset(err, 0x5a, sizeof(err));
	rc = s3_creds_load(&q, &c, err, sizeof(err));
	/* Files with a NUL byte are refused (a NUL once cut values short:
	 * tests/fuzz/crashes/fuzz_creds-1). */
	check_creds(rc, &c, false, true);
	check_err(rc, err, sizeof(err), &c, name);
	s3_creds_free(&c);

	rc = s3_profile_settings_load(q.profile, &ps);
	fuzz_assert(rc == 0 || rc == -ENOMEM);
	if (rc == 0) {
		if (ps.region)
			check_trimmed(ps.region);
		if (ps.endpoint_url)
			check_trimmed(ps.endpoint_url);
	}
	s3_profile_settings_free(&ps);
	free(name);
	return 0;
}
