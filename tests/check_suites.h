/* Every Check suite in tests/check_*.c; check_main.c runs them all. */
#ifndef TG_CHECK_SUITES_H
#define TG_CHECK_SUITES_H
#include <check.h>

/* Absolute or repo-relative path of a test fixture (tests/fixtures/...). */
#define TG_FIXTURE(p) "tests/fixtures/" p

Suite *util_suite(void);   /* check_util.c  */
Suite *msg_suite(void);    /* check_msg.c   — message model, MIME */
Suite *cf_suite(void);     /* check_cf.c    — rule file parser */
Suite *rules_suite(void);  /* check_rules.c — matching, meta, verdicts */

#endif
