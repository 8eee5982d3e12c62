#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

START_TEST(buf_grows_and_terminates)
{
    tg_buf b;
    tg_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        tg_buf_printf(&b, "%d,", i);
    ck_assert_uint_eq(b.len, strlen(b.s));
    ck_assert(strncmp(b.s, "0,1,2,", 6) == 0);
    ck_assert(strstr(b.s, "999,") != NULL);
    /* longer than the room left: formatted again after growing */
    char big[700];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    size_t before = b.len;
    tg_buf_printf(&b, "[%s]%d", big, 7);
    ck_assert_uint_eq(b.len, before + sizeof big + 2);
    ck_assert_uint_eq(b.len, strlen(b.s));
    ck_assert(strcmp(b.s + b.len - 3, "x]7") == 0);
    char *s = tg_buf_steal(&b);
    ck_assert_ptr_null(b.s);
    ck_assert_uint_eq(b.len, 0);
    free(s);
}
END_TEST

START_TEST(parse_sizes)
{
    double v;
    ck_assert_int_eq(tg_parse_size("10M", &v), 0);
    ck_assert(v == 10.0 * 1024 * 1024);
    ck_assert_int_eq(tg_parse_size("512k", &v), 0);
    ck_assert(v == 512.0 * 1024);
    ck_assert_int_eq(tg_parse_size("1.5G", &v), 0);
    ck_assert(v == 1.5 * 1024 * 1024 * 1024);
    ck_assert_int_eq(tg_parse_size("12", &v), 0);
    ck_assert(v == 12);
    ck_assert_int_eq(tg_parse_size("12X", &v), -1);
    ck_assert_int_eq(tg_parse_size("", &v), -1);
    ck_assert_int_eq(tg_parse_size("-3", &v), -1);
}
END_TEST

START_TEST(case_helpers)
{
    ck_assert_int_eq(tg_strcasecmp("Subject", "sUBJECT"), 0);
    ck_assert_int_ne(tg_strcasecmp("Subject", "Subjec"), 0);
    const char *h = "Content-TYPE: text/plain";
    ck_assert_ptr_eq(tg_memcasemem(h, strlen(h), "type", 4), h + 8);
    ck_assert_ptr_null(tg_memcasemem(h, strlen(h), "html", 4));
}
END_TEST

START_TEST(err_buffer)
{
    char err[16];
    ck_assert_int_eq(tg_err(err, sizeof err, "bad %s at %d", "thing", 42), -1);
    ck_assert_str_eq(err, "bad thing at 42"); /* 15 chars + NUL fits */
    ck_assert_int_eq(tg_err(NULL, 0, "ignored"), -1);
}
END_TEST

Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, buf_grows_and_terminates);
    tcase_add_test(tc, parse_sizes);
    tcase_add_test(tc, case_helpers);
    tcase_add_test(tc, err_buffer);
    suite_add_tcase(s, tc);
    return s;
}
