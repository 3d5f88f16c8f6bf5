/*
 * Unit tests for src/s3/creds.c. Each test runs with HOME set to a fresh
 * temporary directory and every AWS_* variable cleared, and writes the
 * files it needs there.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "s3/creds.h"

/* Distinctive secrets, so a leak into a message is easy to spot. */
#define SECRET_A "SEKRITaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SECRET_B "SEKRITbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SECRET_C "SEKRITcccccccccccccccccccccccccccccccccc"
#define TOKEN_T "T0KENtttttttttttttttttttttttt"

static char home[256];
static char err[512];

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID",	   "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",	   "AWS_PROFILE",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
	"AWS_REGION",		   "AWS_DEFAULT_REGION",
	"AWS_ENDPOINT_URL",	   "AWS_ENDPOINT_URL_S3",
};

static void setup(void)
{
	for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
	snprintf(home, sizeof(home), "/tmp/etagfs-creds-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(home));
	setenv("HOME", home, 1);
	memset(err, 0, sizeof(err));
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write $HOME/@p rel with @p mode; returns the full path (static). */
static const char *put(const char *rel, mode_t mode, const char *fmt, ...)
{
	static char path[512];
	char dir[512];
	va_list ap;
	FILE *f;
	char *slash;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	mkdir(dir, 0700);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

static void assert_no_secret(const char *msg)
{
	ck_assert_ptr_null(strstr(msg, "SEKRIT"));
	ck_assert_ptr_null(strstr(msg, "T0KEN"));
}

static int load(const char *passwd_file, const char *profile,
		const char *bucket, struct s3_creds *c)
{
	struct s3_creds_query q = {passwd_file, profile, bucket};
	int rc;

	memset(err, 0, sizeof(err));
	rc = s3_creds_load(&q, c, err, sizeof(err));
	assert_no_secret(err);
	return rc;
}

#define CREDENTIALS                                                            \
	"[default]\n"                                                          \
	"aws_access_key_id = AKDEFAULT\n"                                      \
	"aws_secret_access_key = " SECRET_A "\n"                              \
	"\n"                                                                   \
	"# a comment\n"                                                        \
	"; another\n"                                                          \
	"[work]\n"                                                             \
	"aws_access_key_id=AKWORK\n"                                           \
	"aws_secret_access_key=" SECRET_B "\n"                                \
	"aws_session_token = " TOKEN_T "\n"                                   \
	"[half]\n"                                                             \
	"aws_access_key_id = AKHALF\n"                                         \
	"[empty]\n"                                                            \
	"region = eu-west-1\n"

/* ------------------------------------------------------------ order */

START_TEST(test_env_wins)
{
	struct s3_creds c;

	put(".aws/credentials", 0600, CREDENTIALS);
	put(".passwd-etagfs", 0600, "AKPASSWD:%s\n", SECRET_C);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_A, 1);
	setenv("AWS_SESSION_TOKEN", TOKEN_T, 1);
	setenv("AWS_PROFILE", "work", 1);
	ck_assert_int_eq(load(NULL, NULL, "bucket", &c), 0);
	ck_assert_str_eq(c.access_key, "AKENV");
	ck_assert_str_eq(c.secret_key, SECRET_A);
	ck_assert_str_eq(c.session_token, TOKEN_T);
	ck_assert_str_eq(c.source, "environment");
	s3_creds_free(&c);
	ck_assert_ptr_null(c.access_key);
	ck_assert_ptr_null(c.secret_key);
}
END_TEST

START_TEST(test_env_without_token)
{
	struct s3_creds c;

	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_A, 1);
	setenv("AWS_SESSION_TOKEN", "", 1);
	ck_assert_int_eq(load(NULL, NULL, NULL, &c), 0);
	ck_assert_ptr_null(c.session_token);
	s3_creds_free(&c);
}
END_TEST

START_TEST(test_env_partial)
{
	struct s3_creds c;

	put(".aws/credentials", 0600, CREDENTIALS);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	ck_assert_int_eq(load(NULL, NULL, NULL, &c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "AWS_SECRET_ACCESS_KEY"));
	ck_assert_ptr_null(c.access_key);

	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_A, 1);
	ck_assert_int_eq(load(NULL, NULL, NULL, &c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "AWS_ACCESS_KEY_ID"));
}
END_TEST

/* An explicit passwd file beats the environment. */
START_TEST(test_explicit_passwd_wins)
{
	struct s3_creds c;
	const char *p = put("my-passwd", 0600, "AKFILE:%s\n", SECRET_B);

	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_A, 1);
	ck_assert_int_eq(load(p, NULL, NULL, &c), 0);
	ck_assert_str_eq(c.access_key, "AKFILE");
	ck_assert_str_eq(c.secret_key, SECRET_B);
	ck_assert_str_eq(c.source, p);
	s3_creds_free(&c);
}
END_TEST

/* ... and it is not fallen back from. */
START_TEST(test_explicit_passwd_missing)
{
	struct s3_creds c;
	char missing[512];

	snprintf(missing, sizeof(missing), "%s/nope", home);
	put(".passwd-etagfs", 0600, "AKPASSWD:%s\n", SECRET_C);
	ck_assert_int_eq(load(missing, NULL, NULL, &c), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, missing));
}
END_TEST

/* ------------------------------------------------------------ profiles */

START_TEST(test_profile_default)
{
	struct s3_creds c;
	char expect[600];

	put(".aws/credentials", 0600, CREDENTIALS);
	put(".passwd-etagfs", 0600, "AKPASSWD:%s\n", SECRET_C);
	ck_assert_int_eq(load(NULL, NULL, NULL, &c), 0);
	ck_assert_str_eq(c.access_key, "AKDEFAULT");
	ck_assert_str_eq(c.secret_key, SECRET_A);
	ck_assert_ptr_null(c.session_token);
	snprintf(expect, sizeof(expect), "%s/.aws/credentials (profile default)",
		 home);
	ck_assert_str_eq(c.source, expect);
	s3_creds_free(&c);
}
END_TEST

START_TEST(test_profile_selection)
{
	struct s3_creds c;

	put(".aws/credentials", 0600, CREDENTIALS);
	setenv("AWS_PROFILE", "work", 1);
	ck_assert_int_eq(load(NULL, NULL, NULL, &c), 0);
	ck_assert_str_eq(c.access_key, "AKWORK");
	ck_assert_str_eq(c.secret_key, SECRET_B);
	ck_assert_str_eq(c.session_token, TOKEN_T);
	s3_creds_free(&c);

	/* The option beats AWS_PROFILE. */
	ck_assert_int_eq(load(NULL, "default", NULL, &c), 0);
	ck_assert_str_eq(c.access_key, "AKDEFAULT");
	s3_creds_free(&c);
}
END_TEST

START_TEST(test_profile_missing)
{
	struct s3_creds c;

	put(".aws/credentials", 0600, CREDENTIALS);
	put(".passwd-etagfs", 0600, "AKPASSWD:%s\n", SECRET_C);
	/* Asked for by name: not found is an error, no fallback. */
	ck_assert_int_eq(load(NULL, "nosuch", NULL, &c), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "nosuch"));
	ck_assert_ptr_nonnull(strstr(err, "not defined"));
	/* A section without keys. */
	ck_assert_int_eq(load(NULL, "empty", NULL, &c), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no aws_access_key_id"));
}
END_TEST

START_TEST(test_profile_half)
{
	struct s3_creds c;

	put(".aws/credentials", 0600, CREDENTIALS);
	ck_assert_int_eq(load(NULL, "half", NULL, &c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "aws_secret_access_key"));
	ck_assert_ptr_nonnull(strstr(err, "half"));
}
END_TEST

START_TEST(test_profile_file_override)
{
	struct s3_creds c;
	const char *p;

	put(".aws/credentials", 0600, CREDENTIALS);
	p = put("elsewhere/creds", 0600,
		"[default]\naws_access_key_id = AKOTHER\n"
		"aws_secret_access_key = %s\n",
		SECRET_C);
	setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
	ck_assert_int_eq(load(NULL, NULL, NULL, &c), 0);
	ck_assert_str_eq(c.access_key, "AKOTHER");
	s3_creds_free(&c);
	/* "~/" is the home directory, as in the AWS CLI. */
	setenv("AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere/creds", 1);
	ck_assert_int_eq(load(NULL, NULL, NULL, &c), 0);
	ck_assert_str_eq(c.access_key, "AKOTHER");
	s3_creds_free(&c);
}
END_TEST

/* Keys may also live in the config file, under [profile NAME]. */
START_TEST(test_profile_in_config)
{
	struct s3_creds c;

	put(".aws/config", 0600,
	    "[profile  rgw]\nregion = us-east-1\n"
	    "aws_access_key_id = AKCONF\naws_secret_access_key = %s\n",
	    SECRET_C);
	ck_assert_int_eq(load(NULL, "rgw", NULL, &c), 0);
	ck_assert_str_eq(c.access_key, "AKCONF");
	ck_assert_str_eq(c.secret_key, SECRET_C);
	s3_creds_free(&c);
	/* In the config file "[rgw]" is not the profile rgw. */
	put(".aws/config", 0600,
	    "[rgw]\naws_access_key_id = AKCONF\n"
	    "aws_secret_access_key = %s\n",
	    SECRET_C);
	ck_assert_int_eq(load(NULL, "rgw", NULL, &c), -ENOENT);
}
END_TEST

/* ------------------------------------------------------------ passwd */

START_TEST(test_passwd_home)
{
	struct s3_creds c;
	const char *p = put(".passwd-etagfs", 0600, "AKPASSWD:%s\n", SECRET_C);

	ck_assert_int_eq(load(NULL, NULL, NULL, &c), 0);
	ck_assert_str_eq(c.access_key, "AKPASSWD");
	ck_assert_str_eq(c.secret_key, SECRET_C);
	ck_assert_str_eq(c.source, p);
	s3_creds_free(&c);
}
END_TEST

static const mode_t bad_modes[] = {0644, 0640, 0604, 0620, 0602, 0660};

START_TEST(test_passwd_permissions)
{
	struct s3_creds c;
	const char *p = put(".passwd-etagfs", bad_modes[_i], "AKPASSWD:%s\n",
			    SECRET_C);

	ck_assert_int_eq(load(NULL, NULL, NULL, &c), -EACCES);
	ck_assert_ptr_nonnull(strstr(err, p));
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	ck_assert_ptr_null(c.access_key);
	/* The same file given explicitly. */
	ck_assert_int_eq(load(p, NULL, NULL, &c), -EACCES);
}
END_TEST

/* ~/.aws/credentials holds secret keys too: refused the same way. */
START_TEST(test_aws_credentials_permissions)
{
	struct s3_creds c;
	const char *p = put(".aws/credentials", bad_modes[_i], CREDENTIALS);

	ck_assert_int_eq(load(NULL, NULL, NULL, &c), -EACCES);
	ck_assert_ptr_nonnull(strstr(err, p));
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	ck_assert_ptr_null(c.access_key);
}
END_TEST

START_TEST(test_passwd_not_regular)
{
	struct s3_creds c;
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/adir", home);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(load(dir, NULL, NULL, &c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
}
END_TEST

START_TEST(test_passwd_bucket_line)
{
	struct s3_creds c;
	const char *p = put("pw", 0600,
			    "# etagfs passwd\r\n"
			    "\r\n"
			    "other:AKOTHER:%s\r\n"
			    "  AKGENERIC : %s  \r\n"
			    "\tmybucket:AKBUCKET:%s\t\r\n",
			    SECRET_A, SECRET_B, SECRET_C);

	/* A bucket line wins, even after the generic one. */
	ck_assert_int_eq(load(p, NULL, "mybucket", &c), 0);
	ck_assert_str_eq(c.access_key, "AKBUCKET");
	ck_assert_str_eq(c.secret_key, SECRET_C);
	s3_creds_free(&c);
	ck_assert_int_eq(load(p, NULL, "other", &c), 0);
	ck_assert_str_eq(c.access_key, "AKOTHER");
	ck_assert_str_eq(c.secret_key, SECRET_A);
	s3_creds_free(&c);
	/* No line for this bucket: the generic one, trimmed. */
	ck_assert_int_eq(load(p, NULL, "third", &c), 0);
	ck_assert_str_eq(c.access_key, "AKGENERIC");
	ck_assert_str_eq(c.secret_key, SECRET_B);
	s3_creds_free(&c);
	ck_assert_int_eq(load(p, NULL, NULL, &c), 0);
	ck_assert_str_eq(c.access_key, "AKGENERIC");
	s3_creds_free(&c);
}
END_TEST

START_TEST(test_passwd_no_match)
{
	struct s3_creds c;
	const char *p =
		put("pw", 0600, "# only\nother:AKOTHER:%s", SECRET_A);

	ck_assert_int_eq(load(p, NULL, "mybucket", &c), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "mybucket"));
	p = put("pw2", 0600, "");
	ck_assert_int_eq(load(p, NULL, NULL, &c), -ENOENT);
}
END_TEST

struct malformed_case {
	const char *text;
	const char *where;
};

static const struct malformed_case malformed[] = {
	{"AKONE:" SECRET_A "\n# fine\nSEKRITonlyonefield\n", "line 3"},
	{"AKONE:\n", "line 1"},
	{":" SECRET_A "\n", "line 1"},
	{"b:AK::" SECRET_A "\n", "line 1"},
	{"b:AK:" SECRET_A ":extra\n", "line 1"},
	{"b: :" SECRET_A "\n", "line 1"},
	{"\n\nAK1:" SECRET_A "\nAK2:" SECRET_B "\n", "line 4"},
	{"b:AK1:" SECRET_A "\nb:AK2:" SECRET_B "\n", "line 2"},
};

START_TEST(test_passwd_malformed)
{
	struct s3_creds c;
	const char *p = put("pw", 0600, "%s", malformed[_i].text);

	ck_assert_int_eq(load(p, NULL, "b", &c), -EINVAL);
	ck_assert_msg(strstr(err, malformed[_i].where) != NULL, "err: %s",
		      err);
	ck_assert_ptr_nonnull(strstr(err, p));
	ck_assert_ptr_null(c.access_key);
	/* The direct entry point says the same. */
	ck_assert_int_eq(s3_creds_load_passwd_file(p, "b", &c, err,
						   sizeof(err)),
			 -EINVAL);
	assert_no_secret(err);
}
END_TEST

START_TEST(test_nothing)
{
	struct s3_creds c;

	/* Files that exist but do not help. */
	put(".aws/credentials", 0600, "[other]\naws_access_key_id = X\n");
	ck_assert_int_eq(load(NULL, NULL, "b", &c), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no credentials"));
	ck_assert_ptr_null(c.access_key);
	unsetenv("HOME");
	ck_assert_int_eq(load(NULL, NULL, "b", &c), -ENOENT);
}
END_TEST

/* ------------------------------------------------------------ settings */

START_TEST(test_settings_config)
{
	struct s3_profile_settings s;

	put(".aws/config", 0644,
	    "[default]\n"
	    "region = us-west-2\n"
	    "endpoint_url = https://default.example\n"
	    "[profile rgw]\n"
	    "region=eu-central-1\n"
	    "endpoint_url = https://global.example\n"
	    "s3 =\n"
	    "  endpoint_url = http://127.0.0.1:8000\n"
	    "  addressing_style = path\n"
	    "output = json\n"
	    "[profile flat]\n"
	    "region = ap-south-1\n");
	ck_assert_int_eq(s3_profile_settings_load(NULL, &s), 0);
	ck_assert_str_eq(s.region, "us-west-2");
	ck_assert_str_eq(s.endpoint_url, "https://default.example");
	s3_profile_settings_free(&s);

	/* The s3 sub-section beats the global endpoint_url. */
	ck_assert_int_eq(s3_profile_settings_load("rgw", &s), 0);
	ck_assert_str_eq(s.region, "eu-central-1");
	ck_assert_str_eq(s.endpoint_url, "http://127.0.0.1:8000");
	s3_profile_settings_free(&s);

	setenv("AWS_PROFILE", "flat", 1);
	ck_assert_int_eq(s3_profile_settings_load(NULL, &s), 0);
	ck_assert_str_eq(s.region, "ap-south-1");
	ck_assert_ptr_null(s.endpoint_url);
	s3_profile_settings_free(&s);
	ck_assert_ptr_null(s.region);
}
END_TEST

START_TEST(test_settings_env)
{
	struct s3_profile_settings s;
	const char *p;

	p = put("cfg/other", 0600,
		"[profile x]\nregion = from-file\n"
		"endpoint_url = http://file\n");
	setenv("AWS_CONFIG_FILE", p, 1);
	ck_assert_int_eq(s3_profile_settings_load("x", &s), 0);
	ck_assert_str_eq(s.region, "from-file");
	ck_assert_str_eq(s.endpoint_url, "http://file");
	s3_profile_settings_free(&s);

	setenv("AWS_DEFAULT_REGION", "default-region", 1);
	setenv("AWS_ENDPOINT_URL", "http://env-global", 1);
	ck_assert_int_eq(s3_profile_settings_load("x", &s), 0);
	ck_assert_str_eq(s.region, "default-region");
	ck_assert_str_eq(s.endpoint_url, "http://env-global");
	s3_profile_settings_free(&s);

	setenv("AWS_REGION", "region", 1);
	setenv("AWS_ENDPOINT_URL_S3", "http://env-s3", 1);
	ck_assert_int_eq(s3_profile_settings_load("x", &s), 0);
	ck_assert_str_eq(s.region, "region");
	ck_assert_str_eq(s.endpoint_url, "http://env-s3");
	s3_profile_settings_free(&s);
}
END_TEST

START_TEST(test_settings_none)
{
	struct s3_profile_settings s;

	ck_assert_int_eq(s3_profile_settings_load(NULL, &s), 0);
	ck_assert_ptr_null(s.region);
	ck_assert_ptr_null(s.endpoint_url);
	unsetenv("HOME");
	ck_assert_int_eq(s3_profile_settings_load("x", &s), 0);
	ck_assert_ptr_null(s.region);
	ck_assert_ptr_null(s.endpoint_url);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *creds_suite(void);
Suite *creds_suite(void)
{
	Suite *s = suite_create("creds");
	TCase *tc;

	tc = tcase_create("order");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_env_wins);
	tcase_add_test(tc, test_env_without_token);
	tcase_add_test(tc, test_env_partial);
	tcase_add_test(tc, test_explicit_passwd_wins);
	tcase_add_test(tc, test_explicit_passwd_missing);
	tcase_add_test(tc, test_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("profiles");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_profile_default);
	tcase_add_test(tc, test_profile_selection);
	tcase_add_test(tc, test_profile_missing);
	tcase_add_test(tc, test_profile_half);
	tcase_add_test(tc, test_profile_file_override);
	tcase_add_test(tc, test_profile_in_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("passwd");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_passwd_home);
	tcase_add_loop_test(tc, test_passwd_permissions, 0, N(bad_modes));
	tcase_add_loop_test(tc, test_aws_credentials_permissions, 0,
			    N(bad_modes));
	tcase_add_test(tc, test_passwd_not_regular);
	tcase_add_test(tc, test_passwd_bucket_line);
	tcase_add_test(tc, test_passwd_no_match);
	tcase_add_loop_test(tc, test_passwd_malformed, 0, N(malformed));
	suite_add_tcase(s, tc);

	tc = tcase_create("settings");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_settings_config);
	tcase_add_test(tc, test_settings_env);
	tcase_add_test(tc, test_settings_none);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(creds_suite)
