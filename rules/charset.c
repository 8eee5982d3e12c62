#include "charset.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>

#define CS_NAME_MAX 64

int charset_valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p;
        size_t k;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1; min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2; min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3; min = 0x10000;
        } else {
            return 0;
        }
        if ((size_t)(e - p) <= k)
            return 0;
        unsigned cp = c & (0x3f >> k);
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += k + 1;
    }
    return 1;
}

/* Lower-cases and trims the charset name into buf; returns its length
 * (0 when absent or unusable). */
static size_t cs_norm(const char *cs, size_t n, char *buf)
{
    while (n && (*cs == ' ' || *cs == '\t' || *cs == '"' || *cs == '\''))
        cs++, n--;
    while (n && (cs[n - 1] == ' ' || cs[n - 1] == '\t' || cs[n - 1] == '"' ||
                 cs[n - 1] == '\''))
        n--;
    if (n == 0 || n >= CS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = cs[i];
        if (c >= 'A' && c <= 'Z')
            c += 32;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == ':'))
            return 0;
        buf[i] = c;
    }
    buf[n] = '\0';
    return n;
}

static int cs_passthrough(const char *name)
{
    static const char *const same[] = {
        "us-ascii", "ascii", "utf-8", "utf8", "ansi_x3.4-1968", "us",
        "iso646-us", "7bit", "8bit", "unknown-8bit", "x-unknown", "default",
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        if (strcmp(name, same[i]) == 0)
            return 1;
    return 0;
}

void charset_to_utf8(const char *cs, size_t cslen, const char *in, size_t n,
                     tg_buf *out)
{
    char name[CS_NAME_MAX];
    size_t nl = cs ? cs_norm(cs, cslen, name) : 0;
    if (n == 0)
        return;
    if (nl == 0 || cs_passthrough(name)) {
        tg_buf_add(out, in, n);
        return;
    }
    const char *from = name;
    if (strcmp(name, "iso-8859-1") == 0 || strcmp(name, "latin1") == 0 ||
        strcmp(name, "iso8859-1") == 0 || strcmp(name, "iso_8859-1") == 0 ||
        strcmp(name, "l1") == 0)
        from = "WINDOWS-1252";
    else if (strcmp(name, "ks_c_5601-1987") == 0)
        from = "CP949";
    else if (strcmp(name, "gb2312") == 0)
        from = "GB18030";
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1) {
        tg_buf_add(out, in, n);
        return;
    }
    char *ip = (char *)in;
    size_t il = n;
    char tmp[4096];
    while (il > 0) {
        char *op = tmp;
        size_t ol = sizeof tmp;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        tg_buf_add(out, tmp, (size_t)(op - tmp));
        if (r != (size_t)-1)
            break;
        if (errno == E2BIG)
            continue;
        /* EILSEQ / EINVAL: keep the offending byte and go on */
        tg_buf_addc(out, *ip);
        ip++;
        il--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    char *op = tmp;
    size_t ol = sizeof tmp;
    iconv(cd, NULL, NULL, &op, &ol);
    tg_buf_add(out, tmp, (size_t)(op - tmp));
    iconv_close(cd);
}
