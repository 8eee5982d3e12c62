/* Rule-file parser: good input and every error path with file:line:col. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf.h"
#include "msg.h"
#include "util.h"

static cf_set_t *load_ok(const char *text)
{
    cf_set_t *s = NULL;
    char err[512] = "";
    int rc = cf_load_string("t.cf", text, &s, err, sizeof err);
    ck_assert_msg(rc == 0, "unexpected error: %s", err);
    return s;
}

static cf_rule_t *rule(cf_set_t *s, const char *name)
{
    long i = cf_find(s, name);
    ck_assert_msg(i >= 0, "rule %s not found", name);
    return cf_rule_at(s, (size_t)i);
}

/* Loads text that must fail and checks the whole message. */
static void load_err(const char *text, const char *want)
{
    cf_set_t *s = NULL;
    char err[512] = "";
    int rc = cf_load_string("t.cf", text, &s, err, sizeof err);
    ck_assert_msg(rc == -1, "expected failure for: %s", text);
    ck_assert_ptr_null(s);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
                  "error was '%s', expected it to start with '%s'", err, want);
}

START_TEST(pattern_rules)
{
    cf_set_t *s = load_ok(
        "body     B1 /buy now/i\n"
        "rawbody  R1 m{<font\\s+size=\"?7}i\n"
        "full     F1 m,^Received: from,m\n"
        "uri      U1 /\\.example\\.com\\b/\n"
        "header   H1 Subject =~ /^\\[SPAM\\]/\n"
        "header   H2 From:addr !~ /\\@example\\.org$/ [if-unset: nobody@nowhere]\n"
        "header   H3 exists:X-Mailer\n"
        "header   H4 eval:check_for_missing_to_header()\n"
        "mimeheader M1 Content-Type =~ /application\\/x-zip/\n"
        "body     B2 /a\\#b/   # comment with a # inside\n");
    ck_assert_str_eq(rule(s, "B1")->pattern, "buy now");
    ck_assert_uint_eq(rule(s, "B1")->reflags, CF_RE_I);
    ck_assert_int_eq(rule(s, "B1")->type, CF_BODY);
    ck_assert_str_eq(rule(s, "R1")->pattern, "<font\\s+size=\"?7");
    ck_assert_int_eq(rule(s, "F1")->type, CF_FULL);
    ck_assert_uint_eq(rule(s, "F1")->reflags, CF_RE_M);
    ck_assert_str_eq(rule(s, "F1")->pattern, "^Received: from");
    ck_assert_int_eq(rule(s, "U1")->type, CF_URI);
    cf_rule_t *h2 = rule(s, "H2");
    ck_assert_str_eq(h2->header, "From");
    ck_assert_int_eq(h2->hmode, MSG_H_ADDR);
    ck_assert_int_eq(h2->negate, 1);
    ck_assert_str_eq(h2->unset, "nobody@nowhere");
    ck_assert_str_eq(h2->pattern, "\\@example\\.org$");
    ck_assert_int_eq(rule(s, "H3")->type, CF_EXISTS);
    ck_assert_str_eq(rule(s, "H3")->header, "X-Mailer");
    ck_assert_int_eq(rule(s, "H4")->type, CF_EVAL);
    ck_assert_int_eq(rule(s, "M1")->type, CF_MIMEHEADER);
    ck_assert_str_eq(rule(s, "B2")->pattern, "a#b"); /* \# unescaped */
    ck_assert_uint_eq(cf_get_stats(s)->skipped_eval, 1);
    /* columns point at the pattern */
    ck_assert_int_eq(rule(s, "B1")->col, 13); /* "body     B1 " is 12 chars */
    cf_free(s);
}
END_TEST

START_TEST(attributes_any_order)
{
    cf_set_t *s = load_ok(
        "score    LATE 2.5\n"
        "describe LATE Defined after its score\n"
        "tflags   LATE multiple maxhits=3 nice\n"
        "body     LATE /x/\n"
        "body     T_TEST /y/\n"
        "body     NOSCORE /z/\n"
        "tflags   NICE nice\n"
        "body     NICE /w/\n"
        "score    REL 1.0\n"
        "score    REL (0.5)\n"
        "body     REL /r/\n"
        "score    FOUR 1.1 2.2 3.3 4.4\n"
        "body     FOUR /f/\n");
    cf_rule_t *r = rule(s, "LATE");
    ck_assert(r->has_score && r->score == 2.5);
    ck_assert_str_eq(r->describe, "Defined after its score");
    ck_assert_uint_eq(r->tflags, CF_TF_MULTIPLE | CF_TF_NICE);
    ck_assert_uint_eq(r->maxhits, 3);
    ck_assert(rule(s, "T_TEST")->score == 0.01);  /* SpamAssassin defaults */
    ck_assert(rule(s, "NOSCORE")->score == 1.0);
    ck_assert(rule(s, "NICE")->score == -1.0);
    ck_assert(rule(s, "REL")->score == 1.5);
    ck_assert(rule(s, "FOUR")->score == 1.1);       /* score set 0 */
    cf_free(s);
}
END_TEST

START_TEST(redefinition_replaces)
{
    cf_set_t *s = load_ok("body A /one/\nscore A 3\nbody A /two/i\n");
    ck_assert_str_eq(rule(s, "A")->pattern, "two");
    ck_assert_uint_eq(rule(s, "A")->reflags, CF_RE_I);
    ck_assert(rule(s, "A")->score == 3);
    cf_free(s);
    /* a later definition tollgate cannot run still replaces the earlier
     * one (which must stop running), as eval: does */
    s = load_ok("header B From =~ /a/\nheader B From:first =~ /b/\n"
                "meta C A\nmeta C rules_matching(__X*)\n");
    ck_assert_int_eq(rule(s, "B")->type, CF_EVAL);
    ck_assert_int_eq(rule(s, "C")->type, CF_EVAL);
    ck_assert_uint_eq(cf_get_stats(s)->skipped_unsupported, 2);
    cf_free(s);
}
END_TEST

START_TEST(conditionals)
{
    cf_set_t *s = load_ok(
        "ifplugin Mail::SpamAssassin::Plugin::MIMEHeader\n"
        "  body IN_PLUGIN /a/\n"
        "endif\n"
        "ifplugin Mail::SpamAssassin::Plugin::TextCat\n"
        "  body NOT_LOADED /b/\n"
        "else\n"
        "  body ELSE_BRANCH /b/\n"
        "endif\n"
        "if (version >= 3.004000)\n"
        "  body NEW_ENOUGH /c/\n"
        "  if !plugin(Mail::SpamAssassin::Plugin::ReplaceTags)\n"
        "    body NESTED_NO /d/\n"
        "  endif\n"
        "endif\n"
        "if version > 9.0\n"
        "  body TOO_NEW /e/\n"
        "  unknownjunk is not parsed while skipping\n"
        "endif\n"
        "if can(Mail::SpamAssassin::Conf::feature_bug6558_free) && perl_version >= 5.010\n"
        "  body CAN_FEATURE /f/\n"
        "endif\n"
        "if can(Mail::SpamAssassin::Conf::compat_welcomelist_blocklist)\n"
        "  body NO_SUCH_METHOD /g/\n"
        "endif\n"
        "if can(Mail::SpamAssassin::Plugin::MIMEHeader::has_tflags_range)\n"
        "  mimeheader NO_RANGE Content-Type =~ /x/\n"
        "endif\n");
    /* a feature of a present plugin that tollgate lacks: not loaded */
    ck_assert_int_eq(cf_find(s, "NO_RANGE"), -1);
    ck_assert_int_ge(cf_find(s, "IN_PLUGIN"), 0);
    ck_assert_int_eq(cf_find(s, "NOT_LOADED"), -1);
    ck_assert_int_ge(cf_find(s, "ELSE_BRANCH"), 0);
    ck_assert_int_ge(cf_find(s, "NEW_ENOUGH"), 0);
    ck_assert_int_eq(cf_find(s, "NESTED_NO"), -1);
    ck_assert_int_eq(cf_find(s, "TOO_NEW"), -1);
    ck_assert_int_ge(cf_find(s, "CAN_FEATURE"), 0);
    ck_assert_int_eq(cf_find(s, "NO_SUCH_METHOD"), -1);
    ck_assert(cf_plugin_present("Mail::SpamAssassin::Plugin::SPF"));
    ck_assert(!cf_plugin_present("Mail::SpamAssassin::Plugin::TextCat"));
    cf_free(s);
}
END_TEST

START_TEST(replace_tags)
{
    cf_set_t *s = load_ok(
        "replace_tag  A   (?:a|4)\n"
        "replace_tag  B   b\n"
        "replace_tag  AB  <A><B>\n"
        "replace_inter SP [\\s_]?\n"
        "replace_pre  PR  \\b\n"
        "replace_post P2  {1,2}\n"
        "body R1 /x<A><B>y/i\n"
        "body R2 /<inter SP><A><B>z/\n"
        "body R3 /<post P2><A>-<B>/\n"
        "body R4 /<AB>!/\n"
        "body R5 /<pre PR><B>/\n"
        "body NOT_LISTED /<A>/\n"
        "replace_rules R1 R2 R3\n"
        "replace_rules R4 R5\n");
    ck_assert_str_eq(rule(s, "R1")->pattern, "x(?:a|4)by");
    /* Perl's split keeps a leading empty field: inter before the first tag */
    ck_assert_str_eq(rule(s, "R2")->pattern, "[\\s_]?(?:a|4)[\\s_]?bz");
    ck_assert_str_eq(rule(s, "R3")->pattern, "(?:a|4){1,2}-b{1,2}");
    ck_assert_str_eq(rule(s, "R4")->pattern, "(?:a|4)b!"); /* second pass */
    ck_assert_str_eq(rule(s, "R5")->pattern, "\\bb");
    ck_assert_str_eq(rule(s, "NOT_LISTED")->pattern, "<A>");
    cf_free(s);
}
END_TEST

START_TEST(extensions)
{
    cf_set_t *s = load_ok(
        "connect C1 ip 203.0.113.0/24 2001:db8::/32 192.0.2.7\n"
        "connect C2 hostname =~ /\\.dynamic\\./i\n"
        "helo    HE =~ /^localhost$/\n"
        "envfrom EF =~ /\\@example\\.com$/\n"
        "envrcpt ER !~ /\\@example\\.org$/\n"
        "spf     S1 fail softfail\n"
        "attachment A1 filename =~ /\\.exe$/i\n"
        "attachment A2 type =~ /^application\\/zip$/\n"
        "size    Z1 >= 10M\n"
        "limit   L1 depth parts\n"
        "direction D1 inbound internal\n"
        "local   LO from envfrom\n"
        "category A1 security\n"
        "action  A1 reject \"5.7.1 No executables\"\n"
        "action  Z1 quarantine\n"
        "threshold quarantine 8\n"
        "threshold reject 12.5\n"
        "required_score 4\n");
    cf_rule_t *c1 = rule(s, "C1");
    ck_assert_int_eq(c1->type, CF_CONNECT_IP);
    ck_assert_uint_eq(c1->ncidrs, 3);
    ck_assert_int_eq(c1->cidrs[0].bits, 24);
    ck_assert_int_eq(c1->cidrs[1].bits, 32);
    ck_assert_int_eq(c1->cidrs[2].bits, 32);
    ck_assert_int_eq(rule(s, "C2")->type, CF_CONNECT_HOST);
    ck_assert_int_eq(rule(s, "ER")->negate, 1);
    ck_assert_uint_eq(rule(s, "S1")->spf_mask, CF_SPF_FAIL | CF_SPF_SOFTFAIL);
    ck_assert_int_eq(rule(s, "A2")->type, CF_ATTACH_TYPE);
    ck_assert_int_eq(rule(s, "Z1")->size_op, 'g');
    ck_assert(rule(s, "Z1")->size_val == 10.0 * 1024 * 1024);
    ck_assert_uint_eq(rule(s, "L1")->limit_mask, MSG_LIMIT_DEPTH | MSG_LIMIT_PARTS);
    ck_assert_uint_eq(rule(s, "D1")->dir_mask, CF_DIR_INBOUND | CF_DIR_INTERNAL);
    ck_assert_uint_eq(rule(s, "LO")->local_mask, CF_LOCAL_FROM | CF_LOCAL_ENVFROM);
    ck_assert_str_eq(rule(s, "A1")->category, "security");
    ck_assert_int_eq(rule(s, "A1")->action, CF_ACT_REJECT);
    ck_assert_str_eq(rule(s, "A1")->action_text, "5.7.1 No executables");
    ck_assert_int_eq(rule(s, "Z1")->action, CF_ACT_QUARANTINE);
    ck_assert_ptr_null(rule(s, "Z1")->action_text);
    cf_thresholds_t t = cf_get_thresholds(s);
    ck_assert(t.tag == 4 && t.quarantine == 8 && t.reject == 12.5);
    cf_free(s);
}
END_TEST

START_TEST(skips_are_counted)
{
    cf_set_t *s = load_ok(
        "loadplugin Mail::SpamAssassin::Plugin::Foo\n"
        "uridnsbl URIBL_X multi.example. A\n"
        "uridnsbl URIBL_Y multi.example. A\n"
        "lang de describe FOO Deutsch\n"
        "priority FOO 10\n"
        "header   FIRST From:first =~ /x/\n"
        "body     E1 eval:check_foo()\n"
        "body     E2 eval:check_foo(1)\n");
    const cf_stats_t *st = cf_get_stats(s);
    ck_assert_uint_eq(st->skipped_unsupported, 4); /* loadplugin, 2x uridnsbl, :first */
    ck_assert_uint_eq(st->skipped_eval, 2);
    ck_assert_uint_eq(st->lang_lines, 1);
    ck_assert_uint_eq(st->ignored, 1);
    const cf_note_t *notes;
    size_t n = cf_notes(s, 1, &notes);
    ck_assert_uint_eq(n, 3); /* one note per distinct reason */
    ck_assert_str_eq(notes[1].what, "directive 'uridnsbl'");
    ck_assert_str_eq(notes[1].where, "t.cf:2");
    ck_assert_uint_eq(cf_note_count(s, 1, 1), 2);
    n = cf_notes(s, 0, &notes);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(notes[0].what, "eval:check_foo");
    ck_assert_uint_eq(cf_note_count(s, 0, 0), 2);
    cf_free(s);
}
END_TEST

START_TEST(errors_name_file_line_col)
{
    load_err("body A /x/\nheder FOO Subject =~ /x/\n", "t.cf:2:1: unknown directive 'heder'");
    load_err("  heder FOO x\n", "t.cf:1:3: unknown directive 'heder'");
    load_err("body 1FOO /x/\n", "t.cf:1:6: invalid rule name '1FOO'");
    load_err("body FOO /abc\n", "t.cf:1:10: regular expression is not terminated by '/'");
    load_err("body FOO /abc/q\n", "t.cf:1:15: unknown regular expression flag 'q'");
    load_err("body FOO abc\n", "t.cf:1:10: expected a regular expression starting with '/' or 'm'");
    load_err("body FOO\n", "t.cf:1:9: expected a regular expression");
    load_err("header FOO Subject /x/\n", "t.cf:1:20: expected '=~' or '!~'");
    load_err("header FOO exists:\n", "t.cf:1:19: expected a header name after 'exists:'");
    load_err("meta FOO (A && B\n", "t.cf:1:17: meta FOO: expected ')'");
    load_err("meta FOO A && && B\n", "t.cf:1:15: meta FOO: expected a rule name");
    load_err("meta FOO A B\n", "t.cf:1:12: meta FOO: expected an operator");
    load_err("meta FOO A)\n", "t.cf:1:11: meta FOO: unbalanced ')'");
    load_err("score FOO abc\n", "t.cf:1:11: invalid score 'abc'");
    load_err("score FOO\n", "t.cf:1:10: expected a score");
    load_err("if version >= 3\nbody A /x/\n", "t.cf:1:1: 'if' without a matching 'endif'");
    load_err("endif\n", "t.cf:1:1: 'endif' without a matching 'if'");
    load_err("else\n", "t.cf:1:1: 'else' without a matching 'if'");
    load_err("if frobnicate(3)\nendif\n", "t.cf:1:4: cannot evaluate condition");
    load_err("category FOO virus\n", "t.cf:1:14: unknown category 'virus'");
    load_err("action FOO bounce\n", "t.cf:1:12: unknown action 'bounce'");
    load_err("action FOO reject \"5.7.1 oops\n", "t.cf:1:19: unterminated quoted text");
    load_err("action FOO reject oops\n", "t.cf:1:19: expected the reply text in double quotes");
    load_err("connect FOO ip 10.0.0.0/33\n", "t.cf:1:16: invalid IP address or CIDR '10.0.0.0/33'");
    load_err("connect FOO ip\n", "t.cf:1:15: expected at least one IP address or CIDR");
    load_err("connect FOO port 25\n", "t.cf:1:13: expected 'ip' or 'hostname'");
    load_err("attachment FOO size > 3\n", "t.cf:1:16: expected 'filename' or 'type'");
    load_err("size FOO = 10M\n", "t.cf:1:10: expected '>', '>=', '<' or '<='");
    load_err("size FOO > 10Q\n", "t.cf:1:12: invalid size '10Q'");
    load_err("spf FOO failed\n", "t.cf:1:9: unknown SPF result 'failed'");
    load_err("spf FOO\n", "t.cf:1:8: expected one or more of pass, fail");
    load_err("limit FOO memory\n", "t.cf:1:11: unknown limit 'memory'");
    load_err("direction FOO sideways\n", "t.cf:1:15: unknown direction 'sideways'");
    load_err("local FOO to\n", "t.cf:1:11: unknown address 'to'");
    load_err("threshold panic 3\n", "t.cf:1:11: unknown threshold 'panic'");
    load_err("threshold reject x\n", "t.cf:1:18: expected one number after 'threshold reject'");
    load_err("required_score lots\n", "t.cf:1:16: expected a number after 'required_score'");
    load_err("include /nonexistent/tollgate.cf\n", "t.cf:1:1: cannot include /nonexistent/tollgate.cf");
    load_err("replace_tag A\n", "t.cf:1:13: expected a tag name and its value");
    /* nesting is bounded (it recursed once per '(' or '!': a long enough
     * line overflowed the stack of the thread that reloads) */
    tg_buf b;
    tg_buf_init(&b);
    tg_buf_adds(&b, "if ");
    for (int i = 0; i < 100000; i++)
        tg_buf_addc(&b, i % 2 ? '(' : '!');
    tg_buf_adds(&b, "1\nendif\n");
    load_err(b.s, "t.cf:1:204: cannot evaluate condition");
    tg_buf_reset(&b);
    tg_buf_adds(&b, "meta M A");
    for (int i = 0; i < 100000; i++)
        tg_buf_adds(&b, " + A");
    tg_buf_addc(&b, '\n');
    load_err(b.s, "t.cf:1:4010: meta M: expression too long");
    tg_buf_free(&b);
    /* SpamAssassin's stock metas are far from it */
    tg_buf_init(&b);
    tg_buf_adds(&b, "meta M A");
    for (int i = 0; i < 900; i++)
        tg_buf_adds(&b, " + A");
    tg_buf_addc(&b, '\n');
    cf_free(load_ok(b.s));
    tg_buf_free(&b);
}
END_TEST

START_TEST(files_dirs_includes)
{
    char dir[] = "/tmp/tg_cf_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    FILE *f;
    snprintf(path, sizeof path, "%s/20_b.cf", dir);
    f = fopen(path, "w");
    fputs("body B /b/\ninclude sub/inc.inc\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/10_a.cf", dir);
    f = fopen(path, "w");
    fputs("score B 4\nbody A /a/\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/notes.txt", dir); /* not *.cf: ignored */
    f = fopen(path, "w");
    fputs("garbage that would not parse\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/sub", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/sub/inc.inc", dir);
    f = fopen(path, "w");
    fputs("body C /c/\nbody D /d\n", f);
    fclose(f);

    const char *paths[] = {dir};
    cf_set_t *s = NULL;
    char err[512];
    ck_assert_int_eq(cf_load(paths, 1, &s, err, sizeof err), -1);
    char want[512];
    snprintf(want, sizeof want, "%s/sub/inc.inc:2:8: regular expression is not terminated", dir);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got %s", err);

    f = fopen(path, "w");
    fputs("body C /c/\n", f);
    fclose(f);
    ck_assert_int_eq(cf_load(paths, 1, &s, err, sizeof err), 0);
    ck_assert_uint_eq(cf_get_stats(s)->files, 3);
    ck_assert(rule(s, "B")->score == 4); /* score from 10_a.cf, read first */
    ck_assert_int_ge(cf_find(s, "C"), 0);
    cf_free(s);

    /* a glob */
    char glob[300];
    snprintf(glob, sizeof glob, "%s/1*.cf", dir);
    const char *gp[] = {glob};
    ck_assert_int_eq(cf_load(gp, 1, &s, err, sizeof err), 0);
    ck_assert_int_ge(cf_find(s, "A"), 0);
    ck_assert_int_eq(cf_find(s, "C"), -1);
    cf_free(s);

    /* include loop */
    snprintf(path, sizeof path, "%s/sub/loop.cf", dir);
    f = fopen(path, "w");
    fputs("include loop.cf\n", f);
    fclose(f);
    const char *lp[] = {path};
    ck_assert_int_eq(cf_load(lp, 1, &s, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "includes nested deeper than") != NULL, "got %s", err);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(spamassassin_stock_rules_load)
{
    const char *p[] = {"/usr/share/spamassassin"};
    if (access(p[0], R_OK) != 0) {
        /* install-deps.sh installs spamassassin; a missing one is a setup
         * error, not a reason to pass silently. */
        ck_abort_msg("/usr/share/spamassassin missing: run deploy/install-deps.sh");
    }
    cf_set_t *s = NULL;
    char err[512];
    ck_assert_msg(cf_load(p, 1, &s, err, sizeof err) == 0, "%s", err);
    size_t regex = 0, meta = 0, eval = 0;
    for (size_t i = 0; i < cf_nrules(s); i++) {
        cf_rule_t *r = cf_rule_at(s, i);
        if (!r->defined)
            continue;
        if (r->pattern)
            regex++;
        else if (r->type == CF_META)
            meta++;
        else if (r->type == CF_EVAL)
            eval++;
    }
    ck_assert_uint_ge(regex, 1400);
    ck_assert_uint_ge(meta, 800);
    ck_assert_uint_ge(eval, 300);
    /* ReplaceTags expanded the huge extortion patterns */
    ck_assert_uint_gt(strlen(rule(s, "__MY_MALWARE")->pattern), 100000);
    ck_assert_ptr_null(strstr(rule(s, "__MY_MALWARE")->pattern, "<M>"));
    cf_free(s);
}
END_TEST

Suite *cf_suite(void)
{
    Suite *s = suite_create("cf");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, pattern_rules);
    tcase_add_test(tc, attributes_any_order);
    tcase_add_test(tc, redefinition_replaces);
    tcase_add_test(tc, conditionals);
    tcase_add_test(tc, replace_tags);
    tcase_add_test(tc, extensions);
    tcase_add_test(tc, skips_are_counted);
    tcase_add_test(tc, errors_name_file_line_col);
    tcase_add_test(tc, files_dirs_includes);
    tcase_add_test(tc, spamassassin_stock_rules_load);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
