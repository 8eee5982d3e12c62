#include "tag.h"

#include <ctype.h>
#include <string.h>

/* Score as SpamAssassin prints it: one decimal, never "-0.0". */
static void put_score(tg_buf *out, double s)
{
    if (s > -0.05 && s < 0.05)
        s = 0;
    tg_buf_printf(out, "%.1f", s);
}

void tag_spam_score(const rules_verdict_t *v, tg_buf *out)
{
    put_score(out, v->score);
}

void tag_spam_status(const rules_verdict_t *v, tg_buf *out)
{
    size_t start = out->len;
    tg_buf_adds(out, v->score >= v->required ? "Yes, score=" : "No, score=");
    put_score(out, v->score);
    tg_buf_adds(out, " required=");
    put_score(out, v->required);
    tg_buf_adds(out, " tests=");
    /* "X-Spam-Status: " takes 15 columns of the first line */
    size_t col = 15 + (out->len - start);
    if (!v->nhits) {
        tg_buf_adds(out, "none");
        return;
    }
    for (size_t i = 0; i < v->nhits; i++) {
        size_t n = strlen(v->hits[i].name) + (i + 1 < v->nhits ? 1 : 0);
        if (i && col + n > 78) {
            tg_buf_adds(out, "\n\t");
            col = 8;
        }
        tg_buf_adds(out, v->hits[i].name);
        if (i + 1 < v->nhits)
            tg_buf_addc(out, ',');
        col += n;
    }
}

/* An RFC 8601 property value: a domain name (or any RFC 2045 token) as it
 * is, anything else (a HELO with spaces or ';', which Sendmail passes on)
 * as a quoted-string, control characters dropped, so that it cannot end
 * the resinfo early or pose as another method's result. */
static void put_pvalue(tg_buf *out, const char *v)
{
    int token = *v != '\0';
    for (const unsigned char *p = (const unsigned char *)v; *p && token; p++)
        token = *p > 0x20 && *p < 0x7f && !strchr("()<>@,;:\\\"/[]?=", *p);
    if (token) {
        tg_buf_adds(out, v);
        return;
    }
    tg_buf_addc(out, '"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            continue;
        if (*p == '"' || *p == '\\')
            tg_buf_addc(out, '\\');
        tg_buf_addc(out, (char)*p);
    }
    tg_buf_addc(out, '"');
}

void tag_auth_results(const char *authserv, const spf_result_t *spf, tg_buf *out)
{
    tg_buf_printf(out, "%s; spf=%s %s=", authserv, rules_spf_name(spf->result),
                  spf->helo_identity ? "smtp.helo" : "smtp.mailfrom");
    put_pvalue(out, spf->identity[0] ? spf->identity : "unknown");
}

int tag_ar_is_ours(const char *value, const char *authserv)
{
    while (isspace((unsigned char)*value))
        value++;
    size_t n = 0;
    while (value[n] && value[n] != ';' && !isspace((unsigned char)value[n]))
        n++;
    return n == strlen(authserv) && tg_strncasecmp(value, authserv, n) == 0;
}

void tag_split_reply(char *s, char **code, char **xcode, char **text)
{
    *code = s;
    char *p = strchr(s, ' ');
    if (!p) {
        *xcode = *text = s + strlen(s);
        return;
    }
    *p++ = '\0';
    if (isdigit((unsigned char)p[0]) && p[1] == '.') {
        *xcode = p;
        p = strchr(p, ' ');
        if (p)
            *p++ = '\0';
        else
            p = *xcode + strlen(*xcode);
    } else {
        *xcode = p - 1; /* the '\0' left by the split: empty */
    }
    *text = p;
}
