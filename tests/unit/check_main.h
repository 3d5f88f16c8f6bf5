/*
 * One main() for every unit test program: each tests/unit/check_<module>.c
 * defines <module>_suite() and ends with CHECK_MAIN(<module>_suite).
 */
#ifndef ETAGFS_TESTS_CHECK_MAIN_H
#define ETAGFS_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(suite_fn)                                                   \
	int main(void)                                                         \
	{                                                                      \
		SRunner *sr = srunner_create(suite_fn());                      \
		srunner_run_all(sr, CK_NORMAL);                                \
		int failed = srunner_ntests_failed(sr);                        \
		srunner_free(sr);                                              \
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;              \
	}

#endif
