#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "html.h"

#include <stdlib.h>
#include <string.h>

#define MAX_URI_LENGTH 8192

static const struct entity {
    const char *name;
    unsigned cp;
} entities[] = {
    {"AElig", 198}, {"Aacute", 193}, {"Acirc", 194}, {"Agrave", 192},
    {"Alpha", 913}, {"Aring", 197}, {"Atilde", 195}, {"Auml", 196},
    {"Beta", 914}, {"Ccedil", 199}, {"Chi", 935}, {"Dagger", 8225},
    {"Delta", 916}, {"ETH", 208}, {"Eacute", 201}, {"Ecirc", 202},
    {"Egrave", 200}, {"Epsilon", 917}, {"Eta", 919}, {"Euml", 203},
    {"Gamma", 915}, {"Iacute", 205}, {"Icirc", 206}, {"Igrave", 204},
    {"Iota", 921}, {"Iuml", 207}, {"Kappa", 922}, {"Lambda", 923}, {"Mu", 924},
    {"Ntilde", 209}, {"Nu", 925}, {"OElig", 338}, {"Oacute", 211},
    {"Ocirc", 212}, {"Ograve", 210}, {"Omega", 937}, {"Omicron", 927},
    {"Oslash", 216}, {"Otilde", 213}, {"Ouml", 214}, {"Phi", 934}, {"Pi", 928},
    {"Prime", 8243}, {"Psi", 936}, {"Rho", 929}, {"Scaron", 352},
    {"Sigma", 931}, {"THORN", 222}, {"Tau", 932}, {"Theta", 920},
    {"Uacute", 218}, {"Ucirc", 219}, {"Ugrave", 217}, {"Upsilon", 933},
    {"Uuml", 220}, {"Xi", 926}, {"Yacute", 221}, {"Yuml", 376}, {"Zeta", 918},
    {"aacute", 225}, {"acirc", 226}, {"acute", 180}, {"aelig", 230},
    {"agrave", 224}, {"alefsym", 8501}, {"alpha", 945}, {"amp", 38},
    {"and", 8743}, {"ang", 8736}, {"apos", 39}, {"aring", 229},
    {"asymp", 8776}, {"atilde", 227}, {"auml", 228}, {"bdquo", 8222},
    {"beta", 946}, {"brvbar", 166}, {"bull", 8226}, {"cap", 8745},
    {"ccedil", 231}, {"cedil", 184}, {"cent", 162}, {"chi", 967},
    {"circ", 710}, {"clubs", 9827}, {"cong", 8773}, {"copy", 169},
    {"crarr", 8629}, {"cup", 8746}, {"curren", 164}, {"dArr", 8659},
    {"dagger", 8224}, {"darr", 8595}, {"deg", 176}, {"delta", 948},
    {"diams", 9830}, {"divide", 247}, {"eacute", 233}, {"ecirc", 234},
    {"egrave", 232}, {"empty", 8709}, {"emsp", 8195}, {"ensp", 8194},
    {"epsilon", 949}, {"equiv", 8801}, {"eta", 951}, {"eth", 240},
    {"euml", 235}, {"euro", 8364}, {"exist", 8707}, {"fnof", 402},
    {"forall", 8704}, {"frac12", 189}, {"frac14", 188}, {"frac34", 190},
    {"frasl", 8260}, {"gamma", 947}, {"ge", 8805}, {"gt", 62}, {"hArr", 8660},
    {"harr", 8596}, {"hearts", 9829}, {"hellip", 8230}, {"iacute", 237},
    {"icirc", 238}, {"iexcl", 161}, {"igrave", 236}, {"image", 8465},
    {"infin", 8734}, {"int", 8747}, {"iota", 953}, {"iquest", 191},
    {"isin", 8712}, {"iuml", 239}, {"kappa", 954}, {"lArr", 8656},
    {"lambda", 955}, {"lang", 9001}, {"laquo", 171}, {"larr", 8592},
    {"lceil", 8968}, {"ldquo", 8220}, {"le", 8804}, {"lfloor", 8970},
    {"lowast", 8727}, {"loz", 9674}, {"lrm", 8206}, {"lsaquo", 8249},
    {"lsquo", 8216}, {"lt", 60}, {"macr", 175}, {"mdash", 8212},
    {"micro", 181}, {"middot", 183}, {"minus", 8722}, {"mu", 956},
    {"nabla", 8711}, {"nbsp", 160}, {"ndash", 8211}, {"ne", 8800},
    {"ni", 8715}, {"not", 172}, {"notin", 8713}, {"nsub", 8836},
    {"ntilde", 241}, {"nu", 957}, {"oacute", 243}, {"ocirc", 244},
    {"oelig", 339}, {"ograve", 242}, {"oline", 8254}, {"omega", 969},
    {"omicron", 959}, {"oplus", 8853}, {"or", 8744}, {"ordf", 170},
    {"ordm", 186}, {"oslash", 248}, {"otilde", 245}, {"otimes", 8855},
    {"ouml", 246}, {"para", 182}, {"part", 8706}, {"permil", 8240},
    {"perp", 8869}, {"phi", 966}, {"pi", 960}, {"piv", 982}, {"plusmn", 177},
    {"pound", 163}, {"prime", 8242}, {"prod", 8719}, {"prop", 8733},
    {"psi", 968}, {"quot", 34}, {"rArr", 8658}, {"radic", 8730},
    {"rang", 9002}, {"raquo", 187}, {"rarr", 8594}, {"rceil", 8969},
    {"rdquo", 8221}, {"real", 8476}, {"reg", 174}, {"rfloor", 8971},
    {"rho", 961}, {"rlm", 8207}, {"rsaquo", 8250}, {"rsquo", 8217},
    {"sbquo", 8218}, {"scaron", 353}, {"sdot", 8901}, {"sect", 167},
    {"shy", 173}, {"sigma", 963}, {"sigmaf", 962}, {"sim", 8764},
    {"spades", 9824}, {"sub", 8834}, {"sube", 8838}, {"sum", 8721},
    {"sup", 8835}, {"sup1", 185}, {"sup2", 178}, {"sup3", 179}, {"supe", 8839},
    {"szlig", 223}, {"tau", 964}, {"there4", 8756}, {"theta", 952},
    {"thetasym", 977}, {"thinsp", 8201}, {"thorn", 254}, {"tilde", 732},
    {"times", 215}, {"trade", 8482}, {"uArr", 8657}, {"uacute", 250},
    {"uarr", 8593}, {"ucirc", 251}, {"ugrave", 249}, {"uml", 168},
    {"upsih", 978}, {"upsilon", 965}, {"uuml", 252}, {"weierp", 8472},
    {"xi", 958}, {"yacute", 253}, {"yen", 165}, {"yuml", 255}, {"zeta", 950},
    {"zwj", 8205}, {"zwnj", 8204},
};

static int ent_cmp(const void *k, const void *e)
{
    return strcmp(k, ((const struct entity *)e)->name);
}

static void put_utf8(tg_buf *out, unsigned cp)
{
    char b[4];
    if (cp < 0x80) {
        tg_buf_addc(out, (char)cp);
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        tg_buf_add(out, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        tg_buf_add(out, b, 3);
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        tg_buf_add(out, b, 4);
    }
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Decodes one reference at s[0] == '&'; returns bytes consumed or 0.
 * in_attr: a name without ';' followed by '=' stays ("?a=1&copy=2"). */
static size_t entity_at(const char *s, size_t n, tg_buf *out, int in_attr)
{
    if (n < 3)
        return 0;
    if (s[1] == '#') {
        size_t i = 2;
        unsigned long cp = 0;
        int hex = i < n && (s[i] == 'x' || s[i] == 'X');
        if (hex)
            i++;
        size_t ds = i;
        while (i < n && i - ds < 10) {
            char c = s[i];
            int d;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (hex && c >= 'a' && c <= 'f')
                d = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F')
                d = c - 'A' + 10;
            else
                break;
            cp = cp * (hex ? 16 : 10) + (unsigned long)d;
            i++;
        }
        if (i == ds)
            return 0;
        if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        put_utf8(out, (unsigned)cp);
        return (i < n && s[i] == ';') ? i + 1 : i;
    }
    size_t i = 1;
    while (i < n && i < 10 && is_alnum(s[i]))
        i++;
    /* "&reg " works without the ';' too (HTML::Parser), "&regard" not */
    int semi = i < n && s[i] == ';';
    if (i == 1 || (!semi && i < n && (is_alnum(s[i]) || (in_attr && s[i] == '='))))
        return 0;
    char name[12];
    memcpy(name, s + 1, i - 1);
    name[i - 1] = '\0';
    const struct entity *e = bsearch(name, entities, sizeof entities / sizeof *entities,
                                     sizeof *entities, ent_cmp);
    if (!e)
        return 0;
    /* SpamAssassin turns &nbsp; into a plain space before parsing */
    put_utf8(out, e->cp == 160 ? ' ' : e->cp);
    return semi ? i + 1 : i;
}

static void decode_entities(const char *s, size_t n, tg_buf *out, int in_attr)
{
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t e = amp ? (size_t)(amp - s) : n;
        tg_buf_add(out, s + i, e - i);
        if (!amp)
            break;
        size_t c = entity_at(s + e, n - e, out, in_attr);
        if (c) {
            i = e + c;
        } else {
            tg_buf_addc(out, '&');
            i = e + 1;
        }
    }
}

void html_decode_entities(const char *s, size_t n, tg_buf *out)
{
    decode_entities(s, n, out, 0);
}

/* ---- renderer -------------------------------------------------------- */

enum { EL_NONE, EL_TEXT, EL_WS };

typedef struct render {
    tg_buf *out;
    int last;        /* kind of the last element pushed */
    size_t last_start;
    html_uri_fn fn;
    void *ctx;
    tg_buf base;     /* <base href>, ends in '/' */
    tg_buf tmp;
} render_t;

typedef struct attr {
    const char *name;
    size_t nlen;
    tg_buf val;      /* entity-decoded */
    int has_val;
} attr_t;

#define MAX_ATTRS 32

static void push_ws(render_t *r, const char *ws)
{
    /* trailing space of the previous text element goes */
    if (r->last == EL_TEXT && r->out->len > r->last_start &&
        r->out->s[r->out->len - 1] == ' ') {
        r->out->len--;
        r->out->s[r->out->len] = '\0';
    }
    r->last_start = r->out->len;
    tg_buf_adds(r->out, ws);
    r->last = EL_WS;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static void push_text(render_t *r, const char *s, size_t n)
{
    tg_buf_reset(&r->tmp);
    html_decode_entities(s, n, &r->tmp);
    size_t start = r->out->len;
    int skip_lead = r->last == EL_WS;
    for (size_t i = 0; i < r->tmp.len; i++) {
        char c = r->tmp.s[i];
        if (is_space(c)) {
            while (i + 1 < r->tmp.len && is_space(r->tmp.s[i + 1]))
                i++;
            if (skip_lead && r->out->len == start)
                continue;
            tg_buf_addc(r->out, ' ');
        } else {
            tg_buf_addc(r->out, c);
        }
    }
    r->last_start = start;
    r->last = EL_TEXT;
}

static const char *tag_ws(const char *t)
{
    static const char *const nl[] = {"br", "div"};
    static const char *const sp[] = {"li", "th", "td", "dt", "dd", "embed",
                                     "h1", "h2", "h3", "h4", "h5", "h6"};
    static const char *const para[] = {"p", "hr", "blockquote", "pre",
                                       "listing", "plaintext", "xmp", "title"};
    for (size_t i = 0; i < sizeof nl / sizeof *nl; i++)
        if (strcmp(t, nl[i]) == 0)
            return "\n";
    for (size_t i = 0; i < sizeof sp / sizeof *sp; i++)
        if (strcmp(t, sp[i]) == 0)
            return " ";
    for (size_t i = 0; i < sizeof para / sizeof *para; i++)
        if (strcmp(t, para[i]) == 0)
            return "\n\n";
    return NULL;
}

/* RFC 3986 pieces, HTML.pm's _parse_uri; a NULL ptr means undefined. */
typedef struct uparts {
    const char *scheme, *auth, *path, *query, *frag;
    size_t sl, al, pl, ql, fl;
} uparts;

static void uri_split(const char *u, size_t n, uparts *p)
{
    memset(p, 0, sizeof *p);
    size_t i = 0;
    while (i < n && u[i] != ':' && u[i] != '/' && u[i] != '?' && u[i] != '#')
        i++;
    size_t pos = 0;
    if (i > 0 && i < n && u[i] == ':') {
        p->scheme = u;
        p->sl = i;
        pos = i + 1;
    }
    if (pos + 1 < n && u[pos] == '/' && u[pos + 1] == '/') {
        size_t e = pos + 2;
        while (e < n && u[e] != '/' && u[e] != '?' && u[e] != '#')
            e++;
        p->auth = u + pos + 2;
        p->al = e - pos - 2;
        pos = e;
    }
    size_t e = pos;
    while (e < n && u[e] != '?' && u[e] != '#')
        e++;
    p->path = u + pos;
    p->pl = e - pos;
    pos = e;
    if (pos < n && u[pos] == '?') {
        e = pos + 1;
        while (e < n && u[e] != '#')
            e++;
        p->query = u + pos + 1;
        p->ql = e - pos - 1;
        pos = e;
    }
    if (pos < n && u[pos] == '#') {
        p->frag = u + pos + 1;
        p->fl = n - pos - 1;
    }
}

/* HTML.pm's _remove_dot_segments */
static void remove_dots(const char *in, size_t n, tg_buf *out)
{
    tg_buf o;
    tg_buf_init(&o);
    size_t i = 0;
    int lead = 0; /* a leading "./" or "../" became "/" */
    if (n >= 2 && in[0] == '.' && in[1] == '/')
        i = 2, lead = 1;
    else if (n >= 3 && in[0] == '.' && in[1] == '.' && in[2] == '/')
        i = 3, lead = 1;
    tg_buf inb;
    tg_buf_init(&inb);
    if (lead)
        tg_buf_addc(&inb, '/');
    tg_buf_add(&inb, in + i, n - i);
    const char *s = inb.s ? inb.s : "";
    size_t len = inb.len, p = 0;
    while (p < len && !(len - p == 1 && s[p] == '0')) {
        if (s[p] == '/' && p + 1 < len && s[p + 1] == '.' &&
            (p + 2 == len || s[p + 2] == '/')) {
            p += 2; /* "/." -> "/" */
            if (p == len) {
                tg_buf_addc(&o, '/');
                break;
            }
        } else if (s[p] == '/' && p + 2 < len && s[p + 1] == '.' && s[p + 2] == '.' &&
                   (p + 3 == len || s[p + 3] == '/')) {
            p += 3;
            while (o.len && o.s[o.len - 1] != '/')
                o.len--;
            if (o.len)
                o.len--;
            if (o.s)
                o.s[o.len] = '\0';
            if (p == len) {
                tg_buf_addc(&o, '/');
                break;
            }
        } else {
            size_t q = p;
            if (s[q] == '/')
                q++;
            while (q < len && s[q] != '/')
                q++;
            tg_buf_add(&o, s + p, q - p);
            p = q;
        }
    }
    tg_buf_add(out, o.s ? o.s : "", o.len);
    tg_buf_free(&o);
    tg_buf_free(&inb);
}

/* HTML.pm's target_uri (non-strict): u resolved against base. */
static void target_uri(const char *base, size_t bl, const char *u, size_t n,
                       tg_buf *out)
{
    uparts r, b, t;
    uri_split(u, n, &r);
    uri_split(base, bl, &b);
    memset(&t, 0, sizeof t);
    if (r.scheme && b.scheme && r.sl == b.sl && memcmp(r.scheme, b.scheme, r.sl) == 0)
        r.scheme = NULL;
    tg_buf path;
    tg_buf_init(&path);
    if (r.scheme) {
        t.scheme = r.scheme, t.sl = r.sl;
        t.auth = r.auth, t.al = r.al;
        remove_dots(r.path, r.pl, &path);
        t.query = r.query, t.ql = r.ql;
    } else {
        if (r.auth) {
            t.auth = r.auth, t.al = r.al;
            remove_dots(r.path, r.pl, &path);
            t.query = r.query, t.ql = r.ql;
        } else {
            if (r.pl == 0) {
                tg_buf_add(&path, b.path ? b.path : "", b.pl);
                if (r.query)
                    t.query = r.query, t.ql = r.ql;
                else
                    t.query = b.query, t.ql = b.ql;
            } else {
                if (r.path[0] == '/') {
                    remove_dots(r.path, r.pl, &path);
                } else {
                    tg_buf m;
                    tg_buf_init(&m);
                    if (b.auth && b.pl == 0) {
                        tg_buf_addc(&m, '/');
                    } else if (b.pl && memchr(b.path, '/', b.pl)) {
                        size_t k = b.pl;
                        while (k && b.path[k - 1] != '/')
                            k--;
                        tg_buf_add(&m, b.path, k);
                    }
                    tg_buf_add(&m, r.path, r.pl);
                    remove_dots(m.s, m.len, &path);
                    tg_buf_free(&m);
                }
                t.query = r.query, t.ql = r.ql;
            }
            t.auth = b.auth, t.al = b.al;
        }
        t.scheme = b.scheme, t.sl = b.sl;
    }
    if (t.scheme && t.sl) {
        tg_buf_add(out, t.scheme, t.sl);
        tg_buf_addc(out, ':');
    } else if (t.auth) {
        size_t k = 3;
        if (t.al >= 3 && tg_strncasecmp(t.auth, "www", 3) == 0) {
            while (k < t.al && t.auth[k] >= '0' && t.auth[k] <= '9')
                k++;
            if (k < t.al && t.auth[k] == '.')
                tg_buf_adds(out, "http:");
        } else if (t.al >= 3 && tg_strncasecmp(t.auth, "ftp", 3) == 0) {
            while (k < t.al && t.auth[k] >= '0' && t.auth[k] <= '9')
                k++;
            if (k < t.al && t.auth[k] == '.')
                tg_buf_adds(out, "ftp:");
        }
    }
    if (t.auth) {
        tg_buf_adds(out, "//");
        tg_buf_add(out, t.auth, t.al);
    }
    tg_buf_add(out, path.s ? path.s : "", path.len);
    if (t.query) {
        tg_buf_addc(out, '?');
        tg_buf_add(out, t.query, t.ql);
    }
    if (r.frag) {
        tg_buf_addc(out, '#');
        tg_buf_add(out, r.frag, r.fl);
    }
    tg_buf_free(&path);
}

/* Hands a URI to the caller's function; stops reporting once it asks. */
static void emit_uri(render_t *r, const char *u, size_t n)
{
    if (r->fn && r->fn(r->ctx, u, n) != 0)
        r->fn = NULL;
}

static void push_uri(render_t *r, const char *u, size_t n)
{
    while (n && (is_space(*u) || (unsigned char)*u == 0xa0))
        u++, n--;
    while (n && (is_space(u[n - 1]) || (unsigned char)u[n - 1] == 0xa0))
        n--;
    if (n > MAX_URI_LENGTH)
        n = MAX_URI_LENGTH;
    if (n == 0 || !r->fn)
        return;
    if ((n >= 5 && tg_strncasecmp(u, "data:", 5) == 0) ||
        (n >= 7 && tg_strncasecmp(u, "mailto:", 7) == 0) ||
        (n >= 5 && tg_strncasecmp(u, "file:", 5) == 0) ||
        (n >= 4 && tg_strncasecmp(u, "cid:", 4) == 0) ||
        (n >= 4 && tg_strncasecmp(u, "tel:", 4) == 0)) {
        emit_uri(r, u, n);
        return;
    }
    tg_buf t;
    tg_buf_init(&t);
    target_uri(r->base.s ? r->base.s : "", r->base.len, u, n, &t);
    if (t.len) /* <iframe src=""> and the like */
        emit_uri(r, t.s, t.len);
    tg_buf_free(&t);
}

static const attr_t *attr_get(const attr_t *a, size_t na, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < na; i++)
        if (a[i].nlen == nl && tg_strncasecmp(a[i].name, name, nl) == 0 && a[i].has_val)
            return &a[i];
    return NULL;
}

/* "xxx/href" style broken attributes count as href */
static const attr_t *attr_get_loose(const attr_t *a, size_t na, const char *name)
{
    const attr_t *v = attr_get(a, na, name);
    if (v)
        return v;
    size_t nl = strlen(name);
    for (size_t i = 0; i < na; i++)
        if (a[i].has_val && a[i].nlen > nl + 1 && a[i].name[a[i].nlen - nl - 1] == '/' &&
            tg_strncasecmp(a[i].name + a[i].nlen - nl, name, nl) == 0)
            return &a[i];
    return NULL;
}

static void tag_uris(render_t *r, const char *t, const attr_t *a, size_t na)
{
    const attr_t *v;
    if (!strcmp(t, "body") || !strcmp(t, "table") || !strcmp(t, "tr") ||
        !strcmp(t, "td")) {
        if ((v = attr_get(a, na, "background")))
            push_uri(r, v->val.s, v->val.len);
    } else if (!strcmp(t, "a") || !strcmp(t, "area") || !strcmp(t, "link")) {
        if ((v = attr_get_loose(a, na, "href")))
            push_uri(r, v->val.s, v->val.len);
        if (!strcmp(t, "a") && r->fn) {
            /* HTML.pm also records every <a> under its href as written
             * (unresolved, "" without one) for the anchor text */
            const attr_t *h = attr_get(a, na, "href");
            const char *u = h ? h->val.s : "";
            size_t ul = h ? h->val.len : 0;
            while (ul && (is_space(*u) || (unsigned char)*u == 0xa0))
                u++, ul--;
            while (ul && (is_space(u[ul - 1]) || (unsigned char)u[ul - 1] == 0xa0))
                ul--;
            emit_uri(r, u, ul < MAX_URI_LENGTH ? ul : MAX_URI_LENGTH);
        }
        if ((v = attr_get(a, na, "data-saferedirecturl")))
            push_uri(r, v->val.s, v->val.len);
    } else if (!strcmp(t, "img") || !strcmp(t, "frame") || !strcmp(t, "iframe") ||
               !strcmp(t, "embed") || !strcmp(t, "script") || !strcmp(t, "bgsound")) {
        if ((v = attr_get_loose(a, na, "src")))
            push_uri(r, v->val.s, v->val.len);
    } else if (!strcmp(t, "form")) {
        if ((v = attr_get(a, na, "action")))
            push_uri(r, v->val.s, v->val.len);
    } else if (!strcmp(t, "base")) {
        if ((v = attr_get(a, na, "href")) && v->val.len) {
            push_uri(r, v->val.s, v->val.len);
            const char *u = v->val.s;
            size_t ul = v->val.len;
            while (ul && is_space(*u))
                u++, ul--;
            while (ul && is_space(u[ul - 1]))
                ul--;
            if ((ul >= 5 && tg_strncasecmp(u, "http:", 5) == 0) ||
                (ul >= 6 && tg_strncasecmp(u, "https:", 6) == 0) ||
                (ul >= 4 && tg_strncasecmp(u, "ftp:", 4) == 0)) {
                tg_buf_reset(&r->base);
                if (ul > MAX_URI_LENGTH) /* every URI resolved against it is cut there */
                    ul = MAX_URI_LENGTH;
                /* drop a trailing file name after the authority */
                const char *cs = memchr(u, ':', ul);
                size_t as = (size_t)(cs - u) + 1;
                while (as < ul && u[as] == '/')
                    as++;
                const char *slash = memchr(u + as, '/', ul - as);
                size_t keep = ul;
                if (slash) {
                    const char *ls = u + ul;
                    while (ls > slash && ls[-1] != '/')
                        ls--;
                    const char *dot = memchr(ls, '.', (size_t)(u + ul - ls));
                    if (dot && u + ul - dot >= 3 && u + ul - dot <= 5)
                        keep = (size_t)(ls - u);
                }
                tg_buf_add(&r->base, u, keep);
                if (r->base.s[r->base.len - 1] != '/')
                    tg_buf_addc(&r->base, '/');
            }
        }
    } else if (!strcmp(t, "meta")) {
        const attr_t *he = attr_get(a, na, "http-equiv");
        const attr_t *c = attr_get(a, na, "content");
        if (he && c && he->val.s && tg_memcasemem(he->val.s, he->val.len, "refresh", 7)) {
            const char *u = tg_memcasemem(c->val.s, c->val.len, "url", 3);
            if (u) {
                const char *e = c->val.s + c->val.len;
                u += 3;
                while (u < e && is_space(*u))
                    u++;
                if (u < e && *u == '=') {
                    u++;
                    while (u < e && is_space(*u))
                        u++;
                    const char *semi = memchr(u, ';', (size_t)(e - u));
                    const char *ue = semi ? semi : e;
                    while (ue > u && is_space(ue[-1]))
                        ue--;
                    push_uri(r, u, (size_t)(ue - u));
                }
            }
        }
    }
}

/* Case-insensitive search for "</name" from s; returns its offset or n. */
static size_t find_close(const char *s, size_t n, const char *name)
{
    size_t nl = strlen(name);
    size_t i = 0;
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        if (!lt)
            return n;
        size_t k = (size_t)(lt - s);
        if (k + 2 + nl <= n && s[k + 1] == '/' &&
            tg_strncasecmp(s + k + 2, name, nl) == 0 &&
            (k + 2 + nl == n || !is_alnum(s[k + 2 + nl])))
            return k;
        i = k + 1;
    }
    return n;
}

void html_render(const char *s, size_t n, tg_buf *text, html_uri_fn fn,
                 void *ctx)
{
    /* HTML.pm turns U+201C/U+201D into '"' first (they break attributes) */
    tg_buf q;
    tg_buf_init(&q);
    if (memmem(s, n, "\xe2\x80\x9c", 3) || memmem(s, n, "\xe2\x80\x9d", 3)) {
        for (size_t i = 0; i < n; i++) {
            if (i + 2 < n && (unsigned char)s[i] == 0xe2 &&
                (unsigned char)s[i + 1] == 0x80 &&
                ((unsigned char)s[i + 2] == 0x9c || (unsigned char)s[i + 2] == 0x9d)) {
                tg_buf_addc(&q, '"');
                i += 2;
            } else {
                tg_buf_addc(&q, s[i]);
            }
        }
        s = q.s;
        n = q.len;
    }
    render_t r;
    memset(&r, 0, sizeof r);
    r.out = text;
    r.fn = fn;
    r.ctx = ctx;
    r.last = EL_NONE;
    r.last_start = text->len;
    tg_buf_init(&r.base);
    tg_buf_init(&r.tmp);
    attr_t attrs[MAX_ATTRS];
    for (size_t i = 0; i < MAX_ATTRS; i++)
        tg_buf_init(&attrs[i].val);
    size_t i = 0, text_start = 0;
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        if (!lt)
            break;
        size_t k = (size_t)(lt - s);
        if (k + 1 >= n) {
            i = n;
            break;
        }
        char c1 = s[k + 1];
        if (c1 == '!' && k + 3 < n && s[k + 2] == '-' && s[k + 3] == '-') {
            if (k > text_start)
                push_text(&r, s + text_start, k - text_start);
            const char *end = memmem(s + k + 4, n - k - 4, "-->", 3);
            i = text_start = end ? (size_t)(end - s) + 3 : n;
            continue;
        }
        if (c1 == '!' || c1 == '?') {
            if (k > text_start)
                push_text(&r, s + text_start, k - text_start);
            const char *gt = memchr(s + k, '>', n - k);
            i = text_start = gt ? (size_t)(gt - s) + 1 : n;
            continue;
        }
        int end_tag = c1 == '/';
        size_t ns = k + 1 + (size_t)end_tag;
        if (ns >= n || !((s[ns] >= 'a' && s[ns] <= 'z') || (s[ns] >= 'A' && s[ns] <= 'Z'))) {
            i = k + 1; /* a lone '<' is text */
            continue;
        }
        size_t ne = ns;
        /* HTML::Parser: a tag name runs to whitespace, '/' or '>' ("<a<br>" is
         * one tag named "a<br") */
        while (ne < n && !is_space(s[ne]) && s[ne] != '/' && s[ne] != '>')
            ne++;
        char tag[16];
        size_t tl = ne - ns < sizeof tag - 1 ? ne - ns : sizeof tag - 1;
        for (size_t t = 0; t < tl; t++) {
            char c = s[ns + t];
            tag[t] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        tag[tl] = '\0';
        if (ne - ns >= sizeof tag - 1)
            tag[0] = '\0'; /* no element has a name that long */
        /* attributes up to '>' (quotes respected) */
        size_t na = 0, p = ne;
        while (p < n && s[p] != '>') {
            if (is_space(s[p]) || s[p] == '/') {
                p++;
                continue;
            }
            size_t an = p;
            while (p < n && !is_space(s[p]) && s[p] != '>' && s[p] != '=' &&
                   !(s[p] == '/' && p + 1 < n && s[p + 1] == '>'))
                p++;
            if (p == an) { /* stray '=' */
                p++;
                continue;
            }
            size_t ae = p;
            while (p < n && is_space(s[p]))
                p++;
            attr_t *a = na < MAX_ATTRS ? &attrs[na] : NULL;
            if (a) {
                a->name = s + an;
                a->nlen = ae - an;
                a->has_val = 0;
                tg_buf_reset(&a->val);
            }
            if (p < n && s[p] == '=') {
                p++;
                while (p < n && is_space(s[p]))
                    p++;
                size_t vs, ve;
                if (p < n && (s[p] == '"' || s[p] == '\'')) {
                    char q = s[p];
                    vs = ++p;
                    const char *qe = memchr(s + p, q, n - p);
                    ve = qe ? (size_t)(qe - s) : n;
                    p = qe ? ve + 1 : n;
                } else {
                    vs = p;
                    while (p < n && !is_space(s[p]) && s[p] != '>')
                        p++;
                    ve = p;
                }
                if (a) {
                    decode_entities(s + vs, ve - vs, &a->val, 1);
                    a->has_val = 1;
                }
            }
            if (a)
                na++;
        }
        if (p >= n) {
            /* unterminated tag at the end: HTML::Parser drops it */
            if (k > text_start)
                push_text(&r, s + text_start, k - text_start);
            text_start = n;
            break;
        }
        if (k > text_start)
            push_text(&r, s + text_start, k - text_start);
        i = text_start = p + 1;
        const char *ws = tag_ws(tag);
        if (ws)
            push_ws(&r, ws);
        if (!end_tag) {
            tag_uris(&r, tag, attrs, na);
            if (!strcmp(tag, "script") || !strcmp(tag, "style")) {
                size_t c = find_close(s + i, n - i, tag);
                i = text_start = i + c;
            }
        }
    }
    if (n > text_start)
        push_text(&r, s + text_start, n - text_start);
    for (size_t a = 0; a < MAX_ATTRS; a++)
        tg_buf_free(&attrs[a].val);
    tg_buf_free(&r.base);
    tg_buf_free(&r.tmp);
    tg_buf_free(&q);
}
