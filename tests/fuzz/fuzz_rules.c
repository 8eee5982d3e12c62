/* libFuzzer target: the rule parser and compiler on arbitrary text, then a
 * classification of a fixed message with whatever loaded. Must never crash,
 * leak or hang; errors are fine. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "rules.h"
#include "util.h"

static const char MSG[] =
    "From: A <a@example.com>\nTo: b@example.org\nSubject: =?utf-8?q?hi_there?=\n"
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n"
    "--x\nContent-Type: text/html\n\n<p>buy <a href=\"http://e.example/\">now</a></p>\n"
    "--x\nContent-Type: application/octet-stream; name=a.exe\n\nMZ\n--x--\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *text = tg_strndup((const char *)data, size);
    rules_options_t opts = {.match_limit = 20000, .depth_limit = 1000};
    rules_t *rs = NULL;
    char err[512];
    if (rules_load_string("fuzz.cf", text, &opts, &rs, err, sizeof err) == 0) {
        msg_t *m = msg_new(NULL);
        msg_feed(m, MSG, sizeof MSG - 1);
        msg_finish(m);
        const char *rcpts[] = {"b@example.org"};
        const char *locals[] = {"example.com"};
        rules_env_t env = {.client_ip = "192.0.2.1", .helo = "h", .mail_from = "a@example.com",
                           .rcpts = rcpts, .nrcpts = 1, .spf = RULES_SPF_FAIL,
                           .direction = RULES_DIR_INBOUND, .local_domains = locals,
                           .nlocal_domains = 1};
        rules_scratch_t *sc = rules_scratch_new(rs);
        rules_verdict_t v;
        rules_classify(rs, sc, m, &env, &v);
        rules_verdict_clear(&v);
        rules_scratch_free(sc);
        msg_free(m);
        rules_unref(rs);
    }
    free(text);
    return 0;
}
