#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "uri.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define URI_MAX 2048
#define URI_CANON_DEPTH 4

static int lc(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int is_space_def(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static int is_word_def(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* Thunderbird's end delimiters for a URL */
static int end_delim_def(unsigned char c)
{
    return is_space_def(c) || c == '>' || c == '<' || c == '"' || c == '`' ||
           c == '}' || c == ']' || c == '{' || c == '[' || c == '|' ||
           c == 0x1b || c == 0xa0;
}

static int end_delim_email_def(unsigned char c)
{
    return end_delim_def(c) || c == ',' || c == '(' || c == '\'' || c >= 0x80;
}

static int start_delim_def(unsigned char c)
{
    return is_space_def(c) || c == '>' || c == '<' || c == '"' || c == '\'' ||
           c == '`' || c == ',' || c == '{' || c == '[' || c == '(' ||
           c == '|' || c == 0x1b || c == 0xa0;
}

/* schemeless start delimiters: most punctuation */
static int sc_start_delim_def(unsigned char c)
{
    return is_space_def(c) || c == 0x1b || c == 0xa0 ||
           (c != '.' && c != '-' && c != '_' && c != '%' &&
            ((c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) ||
             (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e)));
}

/* The predicates above, tabulated: the text scan asks several of them for
 * every byte of every body line. Filled once, before main. */
enum { C_SPACE = 1, C_WORD = 2, C_END = 4, C_END_EMAIL = 8, C_START = 16, C_SC_START = 32 };
static unsigned char ctab[256];

__attribute__((constructor)) static void ctab_init(void)
{
    for (int c = 0; c < 256; c++)
        ctab[c] = (unsigned char)((is_space_def((unsigned char)c) ? C_SPACE : 0) |
                                  (is_word_def((unsigned char)c) ? C_WORD : 0) |
                                  (end_delim_def((unsigned char)c) ? C_END : 0) |
                                  (end_delim_email_def((unsigned char)c) ? C_END_EMAIL : 0) |
                                  (start_delim_def((unsigned char)c) ? C_START : 0) |
                                  (sc_start_delim_def((unsigned char)c) ? C_SC_START : 0));
}

static inline int is_space(unsigned char c) { return ctab[c] & C_SPACE; }
static inline int is_word(unsigned char c) { return ctab[c] & C_WORD; }
static inline int end_delim(unsigned char c) { return ctab[c] & C_END; }
static inline int end_delim_email(unsigned char c) { return ctab[c] & C_END_EMAIL; }
static inline int start_delim(unsigned char c) { return ctab[c] & C_START; }
static inline int sc_start_delim(unsigned char c) { return ctab[c] & C_SC_START; }

static int prefix_ci(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && tg_strncasecmp(s, p, pl) == 0;
}

/* Length of a known-scheme start at s: http://, https://, ftp://, www\d{0,2}.,
 * ftp. — 0 if none. */
static size_t known_scheme(const char *s, size_t n)
{
    if (prefix_ci(s, n, "http://"))
        return 7;
    if (prefix_ci(s, n, "https://"))
        return 8;
    if (prefix_ci(s, n, "ftp://"))
        return 6;
    if (prefix_ci(s, n, "ftp."))
        return 4;
    if (prefix_ci(s, n, "www")) {
        size_t i = 3;
        while (i < n && i < 5 && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i < n && s[i] == '.')
            return i + 1;
    }
    return 0;
}

/* IANA top-level domains (the list SpamAssassin's 20_aux_tlds.cf gives
 * util_rb_tld), sorted for bsearch. */
static const char *const tlds[] = {
    "aaa", "aarp", "abb", "abbott", "abbvie", "abc", "able", "abogado",
    "abudhabi", "ac", "academy", "accenture", "accountant", "accountants",
    "aco", "actor", "ad", "ads", "adult", "ae", "aeg", "aero", "aetna", "af",
    "afl", "africa", "ag", "agakhan", "agency", "ai", "aig", "airbus",
    "airforce", "airtel", "akdn", "al", "alibaba", "alipay", "allfinanz",
    "allstate", "ally", "alsace", "alstom", "am", "amazon", "americanexpress",
    "americanfamily", "amex", "amfam", "amica", "amsterdam", "analytics",
    "android", "anquan", "anz", "ao", "aol", "apartments", "app", "apple",
    "aq", "aquarelle", "ar", "arab", "aramco", "archi", "army", "arpa", "art",
    "arte", "as", "asda", "asia", "associates", "at", "athleta", "attorney",
    "au", "auction", "audi", "audible", "audio", "auspost", "author", "auto",
    "autos", "avianca", "aw", "aws", "ax", "axa", "az", "azure", "ba", "baby",
    "baidu", "banamex", "bananarepublic", "band", "bank", "bar", "barcelona",
    "barclaycard", "barclays", "barefoot", "bargains", "baseball",
    "basketball", "bauhaus", "bayern", "bb", "bbc", "bbt", "bbva", "bcg",
    "bcn", "bd", "be", "beats", "beauty", "beer", "bentley", "berlin", "best",
    "bestbuy", "bet", "bf", "bg", "bh", "bharti", "bi", "bible", "bid", "bike",
    "bing", "bingo", "bio", "biz", "bj", "black", "blackfriday", "blockbuster",
    "blog", "bloomberg", "blue", "bm", "bms", "bmw", "bn", "bnpparibas", "bo",
    "boats", "boehringer", "bofa", "bom", "bond", "boo", "book", "booking",
    "bosch", "bostik", "boston", "bot", "boutique", "box", "br", "bradesco",
    "bridgestone", "broadway", "broker", "brother", "brussels", "bs", "bt",
    "build", "builders", "business", "buy", "buzz", "bv", "bw", "by", "bz",
    "bzh", "ca", "cab", "cafe", "cal", "call", "calvinklein", "cam", "camera",
    "camp", "canon", "capetown", "capital", "capitalone", "car", "caravan",
    "cards", "care", "career", "careers", "cars", "casa", "case", "cash",
    "casino", "cat", "catering", "catholic", "cba", "cbn", "cbre", "cc", "cd",
    "center", "ceo", "cern", "cf", "cfa", "cfd", "cg", "ch", "chanel",
    "channel", "charity", "chase", "chat", "cheap", "chintai", "christmas",
    "chrome", "church", "ci", "cipriani", "circle", "cisco", "citadel", "citi",
    "citic", "city", "ck", "cl", "claims", "cleaning", "click", "clinic",
    "clinique", "clothing", "cloud", "club", "clubmed", "cm", "cn", "co",
    "coach", "codes", "coffee", "college", "cologne", "com", "comcast",
    "commbank", "community", "company", "compare", "computer", "comsec",
    "condos", "construction", "consulting", "contact", "contractors",
    "cooking", "cool", "coop", "corsica", "country", "coupon", "coupons",
    "courses", "cpa", "cr", "credit", "creditcard", "creditunion", "cricket",
    "crown", "crs", "cruise", "cruises", "cu", "cuisinella", "cv", "cw", "cx",
    "cy", "cymru", "cyou", "cz", "dabur", "dad", "dance", "data", "date",
    "dating", "datsun", "day", "dclk", "dds", "de", "deal", "dealer", "deals",
    "degree", "delivery", "dell", "deloitte", "delta", "democrat", "dental",
    "dentist", "desi", "design", "dev", "dhl", "diamonds", "diet", "digital",
    "direct", "directory", "discount", "discover", "dish", "diy", "dj", "dk",
    "dm", "dnp", "do", "docs", "doctor", "dog", "domains", "dot", "download",
    "drive", "dtv", "dubai", "dunlop", "dupont", "durban", "dvag", "dvr", "dz",
    "earth", "eat", "ec", "eco", "edeka", "edu", "education", "ee", "eg",
    "email", "emerck", "energy", "engineer", "engineering", "enterprises",
    "epson", "equipment", "er", "ericsson", "erni", "es", "esq", "estate",
    "et", "etisalat", "eu", "eurovision", "eus", "events", "exchange",
    "expert", "exposed", "express", "extraspace", "fage", "fail", "fairwinds",
    "faith", "family", "fan", "fans", "farm", "farmers", "fashion", "fast",
    "fedex", "feedback", "ferrari", "ferrero", "fi", "fidelity", "fido",
    "film", "final", "finance", "financial", "fire", "firestone", "firmdale",
    "fish", "fishing", "fit", "fitness", "fj", "fk", "flickr", "flights",
    "flir", "florist", "flowers", "fly", "fm", "fo", "foo", "food", "football",
    "ford", "forex", "forsale", "forum", "foundation", "fox", "fr", "free",
    "fresenius", "frl", "frogans", "frontier", "ftr", "fujitsu", "fun", "fund",
    "furniture", "futbol", "fyi", "ga", "gal", "gallery", "gallo", "gallup",
    "game", "games", "gap", "garden", "gay", "gb", "gbiz", "gd", "gdn", "ge",
    "gea", "gent", "genting", "george", "gf", "gg", "ggee", "gh", "gi", "gift",
    "gifts", "gives", "giving", "gl", "glass", "gle", "global", "globo", "gm",
    "gmail", "gmbh", "gmo", "gmx", "gn", "godaddy", "gold", "goldpoint",
    "golf", "goo", "goodyear", "goog", "google", "gop", "got", "gov", "gp",
    "gq", "gr", "grainger", "graphics", "gratis", "green", "gripe", "grocery",
    "group", "gs", "gt", "gu", "guardian", "gucci", "guge", "guide", "guitars",
    "guru", "gw", "gy", "hair", "hamburg", "hangout", "haus", "hbo", "hdfc",
    "hdfcbank", "health", "healthcare", "help", "helsinki", "here", "hermes",
    "hiphop", "hisamitsu", "hitachi", "hiv", "hk", "hkt", "hm", "hn", "hockey",
    "holdings", "holiday", "homedepot", "homegoods", "homes", "homesense",
    "honda", "horse", "hospital", "host", "hosting", "hot", "hotels",
    "hotmail", "house", "how", "hr", "hsbc", "ht", "hu", "hughes", "hyatt",
    "hyundai", "ibm", "icbc", "ice", "icu", "id", "ie", "ieee", "ifm", "ikano",
    "il", "im", "imamat", "imdb", "immo", "immobilien", "in", "inc",
    "industries", "infiniti", "info", "ing", "ink", "institute", "insurance",
    "insure", "int", "international", "intuit", "investments", "io",
    "ipiranga", "iq", "ir", "irish", "is", "ismaili", "ist", "istanbul", "it",
    "itau", "itv", "jaguar", "java", "jcb", "je", "jeep", "jetzt", "jewelry",
    "jio", "jll", "jm", "jmp", "jnj", "jo", "jobs", "joburg", "jot", "joy",
    "jp", "jpmorgan", "jprs", "juegos", "juniper", "kaufen", "kddi", "ke",
    "kerryhotels", "kerrylogistics", "kerryproperties", "kfh", "kg", "kh",
    "ki", "kia", "kids", "kim", "kindle", "kitchen", "kiwi", "km", "kn",
    "koeln", "komatsu", "kosher", "kp", "kpmg", "kpn", "kr", "krd", "kred",
    "kuokgroup", "kw", "ky", "kyoto", "kz", "la", "lacaixa", "lamborghini",
    "lamer", "lancaster", "land", "landrover", "lanxess", "lasalle", "lat",
    "latino", "latrobe", "law", "lawyer", "lb", "lc", "lds", "lease",
    "leclerc", "lefrak", "legal", "lego", "lexus", "lgbt", "li", "lidl",
    "life", "lifeinsurance", "lifestyle", "lighting", "like", "lilly",
    "limited", "limo", "lincoln", "link", "lipsy", "live", "living", "lk",
    "llc", "llp", "loan", "loans", "locker", "locus", "lol", "london", "lotte",
    "lotto", "love", "lpl", "lplfinancial", "lr", "ls", "lt", "ltd", "ltda",
    "lu", "lundbeck", "luxe", "luxury", "lv", "ly", "ma", "madrid", "maif",
    "maison", "makeup", "man", "management", "mango", "map", "market",
    "marketing", "markets", "marriott", "marshalls", "mattel", "mba", "mc",
    "mckinsey", "md", "me", "med", "media", "meet", "melbourne", "meme",
    "memorial", "men", "menu", "merckmsd", "mg", "mh", "miami", "microsoft",
    "mil", "mini", "mint", "mit", "mitsubishi", "mk", "ml", "mlb", "mls", "mm",
    "mma", "mn", "mo", "mobi", "mobile", "moda", "moe", "moi", "mom", "monash",
    "money", "monster", "mormon", "mortgage", "moscow", "moto", "motorcycles",
    "mov", "movie", "mp", "mq", "mr", "ms", "msd", "mt", "mtn", "mtr", "mu",
    "museum", "music", "mv", "mw", "mx", "my", "mz", "na", "nab", "nagoya",
    "name", "natura", "navy", "nba", "nc", "ne", "nec", "net", "netbank",
    "netflix", "network", "neustar", "new", "news", "next", "nextdirect",
    "nexus", "nf", "nfl", "ng", "ngo", "nhk", "ni", "nico", "nike", "nikon",
    "ninja", "nissan", "nissay", "nl", "no", "nokia", "norton", "now",
    "nowruz", "nowtv", "np", "nr", "nra", "nrw", "ntt", "nu", "nyc", "nz",
    "obi", "observer", "office", "okinawa", "olayan", "olayangroup", "oldnavy",
    "ollo", "om", "omega", "one", "ong", "onl", "online", "ooo", "open",
    "oracle", "orange", "org", "organic", "origins", "osaka", "otsuka", "ott",
    "ovh", "pa", "page", "panasonic", "paris", "pars", "partners", "parts",
    "party", "pay", "pccw", "pe", "pet", "pf", "pfizer", "pg", "ph",
    "pharmacy", "phd", "philips", "phone", "photo", "photography", "photos",
    "physio", "pics", "pictet", "pictures", "pid", "pin", "ping", "pink",
    "pioneer", "pizza", "pk", "pl", "place", "play", "playstation", "plumbing",
    "plus", "pm", "pn", "pnc", "pohl", "poker", "politie", "porn", "post",
    "pr", "pramerica", "praxi", "press", "prime", "pro", "prod", "productions",
    "prof", "progressive", "promo", "properties", "property", "protection",
    "pru", "prudential", "ps", "pt", "pub", "pw", "pwc", "py", "qa", "qpon",
    "quebec", "quest", "racing", "radio", "re", "read", "realestate",
    "realtor", "realty", "recipes", "red", "redstone", "redumbrella", "rehab",
    "reise", "reisen", "reit", "reliance", "ren", "rent", "rentals", "repair",
    "report", "republican", "rest", "restaurant", "review", "reviews",
    "rexroth", "rich", "richardli", "ricoh", "ril", "rio", "rip", "ro",
    "rocks", "rodeo", "rogers", "room", "rs", "rsvp", "ru", "rugby", "ruhr",
    "run", "rw", "rwe", "ryukyu", "sa", "saarland", "safe", "safety", "sakura",
    "sale", "salon", "samsclub", "samsung", "sandvik", "sandvikcoromant",
    "sanofi", "sap", "sarl", "sas", "save", "saxo", "sb", "sbi", "sbs", "sc",
    "sca", "scb", "schaeffler", "schmidt", "scholarships", "school", "schule",
    "schwarz", "science", "scot", "sd", "se", "search", "seat", "secure",
    "security", "seek", "select", "sener", "services", "seven", "sew", "sex",
    "sexy", "sfr", "sg", "sh", "shangrila", "sharp", "shaw", "shell", "shia",
    "shiksha", "shoes", "shop", "shopping", "shouji", "show", "si", "silk",
    "sina", "singles", "site", "sj", "sk", "ski", "skin", "sky", "skype", "sl",
    "sling", "sm", "smart", "smile", "sn", "sncf", "so", "soccer", "social",
    "softbank", "software", "sohu", "solar", "solutions", "song", "sony",
    "soy", "spa", "space", "sport", "spot", "sr", "srl", "ss", "st", "stada",
    "staples", "star", "statebank", "statefarm", "stc", "stcgroup",
    "stockholm", "storage", "store", "stream", "studio", "study", "style",
    "su", "sucks", "supplies", "supply", "support", "surf", "surgery",
    "suzuki", "sv", "swatch", "swiss", "sx", "sy", "sydney", "systems", "sz",
    "tab", "taipei", "talk", "taobao", "target", "tatamotors", "tatar",
    "tattoo", "tax", "taxi", "tc", "tci", "td", "tdk", "team", "tech",
    "technology", "tel", "temasek", "tennis", "teva", "tf", "tg", "th", "thd",
    "theater", "theatre", "tiaa", "tickets", "tienda", "tips", "tires",
    "tirol", "tj", "tjmaxx", "tjx", "tk", "tkmaxx", "tl", "tm", "tmall", "tn",
    "to", "today", "tokyo", "tools", "top", "toray", "toshiba", "total",
    "tours", "town", "toyota", "toys", "tr", "trade", "trading", "training",
    "travel", "travelers", "travelersinsurance", "trust", "trv", "tt", "tube",
    "tui", "tunes", "tushu", "tv", "tvs", "tw", "tz", "ua", "ubank", "ubs",
    "ug", "uk", "unicom", "university", "uno", "uol", "ups", "us", "uy", "uz",
    "va", "vacations", "vana", "vanguard", "vc", "ve", "vegas", "ventures",
    "verisign", "versicherung", "vet", "vg", "vi", "viajes", "video", "vig",
    "viking", "villas", "vin", "vip", "virgin", "visa", "vision", "viva",
    "vivo", "vlaanderen", "vn", "vodka", "volkswagen", "volvo", "vote",
    "voting", "voto", "voyage", "vu", "wales", "walmart", "walter", "wang",
    "wanggou", "watch", "watches", "weather", "weatherchannel", "webcam",
    "weber", "website", "wed", "wedding", "weibo", "weir", "wf", "whoswho",
    "wien", "wiki", "williamhill", "win", "windows", "wine", "winners", "wme",
    "wolterskluwer", "woodside", "work", "works", "world", "wow", "ws", "wtc",
    "wtf", "xbox", "xerox", "xfinity", "xihuan", "xin", "xn--11b4c3d",
    "xn--1ck2e1b", "xn--1qqw23a", "xn--2scrj9c", "xn--30rr7y", "xn--3bst00m",
    "xn--3ds443g", "xn--3e0b707e", "xn--3hcrj9c", "xn--3pxu8k", "xn--42c2d9a",
    "xn--45br5cyl", "xn--45brj9c", "xn--45q11c", "xn--4dbrk0ce", "xn--4gbrim",
    "xn--54b7fta0cc", "xn--55qw42g", "xn--55qx5d", "xn--5su34j936bgsg",
    "xn--5tzm5g", "xn--6frz82g", "xn--6qq986b3xl", "xn--80adxhks",
    "xn--80ao21a", "xn--80aqecdr1a", "xn--80asehdb", "xn--80aswg",
    "xn--8y0a063a", "xn--90a3ac", "xn--90ae", "xn--90ais", "xn--9dbq2a",
    "xn--9et52u", "xn--9krt00a", "xn--b4w605ferd", "xn--bck1b9a5dre4c",
    "xn--c1avg", "xn--c2br7g", "xn--cck2b3b", "xn--cckwcxetd", "xn--cg4bki",
    "xn--clchc0ea0b2g2a9gcd", "xn--czr694b", "xn--czrs0t", "xn--czru2d",
    "xn--d1acj3b", "xn--d1alf", "xn--e1a4c", "xn--eckvdtc9d", "xn--efvy88h",
    "xn--fct429k", "xn--fhbei", "xn--fiq228c5hs", "xn--fiq64b", "xn--fiqs8s",
    "xn--fiqz9s", "xn--fjq720a", "xn--flw351e", "xn--fpcrj9c3d",
    "xn--fzc2c9e2c", "xn--fzys8d69uvgm", "xn--g2xx48c", "xn--gckr3f0f",
    "xn--gecrj9c", "xn--gk3at1e", "xn--h2breg3eve", "xn--h2brj9c",
    "xn--h2brj9c8c", "xn--hxt814e", "xn--i1b6b1a6a2e", "xn--imr513n",
    "xn--io0a7i", "xn--j1aef", "xn--j1amh", "xn--j6w193g", "xn--jlq480n2rg",
    "xn--jvr189m", "xn--kcrx77d1x4a", "xn--kprw13d", "xn--kpry57d",
    "xn--kput3i", "xn--l1acc", "xn--lgbbat1ad8j", "xn--mgb9awbf",
    "xn--mgba3a3ejt", "xn--mgba3a4f16a", "xn--mgba7c0bbn0a", "xn--mgbaakc7dvf",
    "xn--mgbaam7a8h", "xn--mgbab2bd", "xn--mgbah1a3hjkrd", "xn--mgbai9azgqp6j",
    "xn--mgbayh7gpa", "xn--mgbbh1a", "xn--mgbbh1a71e", "xn--mgbc0a9azcg",
    "xn--mgbca7dzdo", "xn--mgbcpq6gpa1a", "xn--mgberp4a5d4ar", "xn--mgbgu82a",
    "xn--mgbi4ecexp", "xn--mgbpl2fh", "xn--mgbt3dhd", "xn--mgbtx2b",
    "xn--mgbx4cd0ab", "xn--mix891f", "xn--mk1bu44c", "xn--mxtq1m",
    "xn--ngbc5azd", "xn--ngbe9e0a", "xn--ngbrx", "xn--node", "xn--nqv7f",
    "xn--nqv7fs00ema", "xn--nyqy26a", "xn--o3cw4h", "xn--ogbpf8fl",
    "xn--otu796d", "xn--p1acf", "xn--p1ai", "xn--pgbs0dh", "xn--pssy2u",
    "xn--q7ce6a", "xn--q9jyb4c", "xn--qcka1pmc", "xn--qxa6a", "xn--qxam",
    "xn--rhqv96g", "xn--rovu88b", "xn--rvc1e0am3e", "xn--s9brj9c",
    "xn--ses554g", "xn--t60b56a", "xn--tckwe", "xn--tiq49xqyj", "xn--unup4y",
    "xn--vermgensberater-ctb", "xn--vermgensberatung-pwb", "xn--vhquv",
    "xn--vuq861b", "xn--w4r85el8fhu5dnra", "xn--w4rs40l", "xn--wgbh1c",
    "xn--wgbl6a", "xn--xhq521b", "xn--xkc2al3hye2a", "xn--xkc2dl3a5ee0h",
    "xn--y9a3aq", "xn--yfro4i67o", "xn--ygbi2ammx", "xn--zfr164b", "xxx",
    "xyz", "yachts", "yahoo", "yamaxun", "yandex", "ye", "yodobashi", "yoga",
    "yokohama", "you", "youtube", "yt", "yun", "za", "zappos", "zara", "zero",
    "zip", "zm", "zone", "zuerich", "zw",
};

static int tld_cmp(const void *k, const void *e)
{
    return strcmp(k, *(const char *const *)e);
}

/* 1 if [s, s+n) is a valid TLD (any case). */
static int tld_ok(const char *s, size_t n)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf)
        return 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)lc((unsigned char)s[i]);
    buf[n] = '\0';
    return bsearch(buf, tlds, sizeof tlds / sizeof *tlds, sizeof *tlds,
                   tld_cmp) != NULL;
}

/* Host ends in a valid TLD and has at least two labels. */
static int host_ok(const char *h, size_t n)
{
    while (n && h[n - 1] == '.')
        n--;
    size_t i = n;
    while (i > 0 && h[i - 1] != '.')
        i--;
    if (i == 0 || i == 1)
        return 0;
    return tld_ok(h + i, n - i);
}

/* Schemeless: [a-z\d][a-z\d._-]{0,251}\.TLD \.? (:\d{1,5})? (/[^delim]+)?
 * followed by an end delimiter. Returns the length matched or 0. */
static size_t schemeless(const char *s, size_t n)
{
    if (!n || !((lc(s[0]) >= 'a' && lc(s[0]) <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return 0;
    size_t i = 1, dot = 0, dot2 = 0; /* the last two dots (none at 0) */
    while (i < n && i < 253 &&
           (is_word((unsigned char)s[i]) || s[i] == '.' || s[i] == '-')) {
        if (s[i] == '.')
            dot2 = dot, dot = i;
        i++;
    }
    /* the host ends with .TLD, or with .TLD. */
    size_t he = i;
    if (s[he - 1] == '.')
        he--, dot = dot2;
    size_t d = dot + 1;
    if (d < 2 || !tld_ok(s + d, he - d))
        return 0;
    size_t j = i;
    if (j < n && s[j] == ':') {
        size_t k = j + 1;
        while (k < n && k - j <= 5 && s[k] >= '0' && s[k] <= '9')
            k++;
        if (k == j + 1 || (k < n && s[k] >= '0' && s[k] <= '9'))
            return 0;
        j = k;
    }
    if (j < n && s[j] == '/') {
        size_t k = j + 1;
        while (k < n && k - j <= URI_MAX && !end_delim((unsigned char)s[k]))
            k++;
        if (k > j + 1)
            return k; /* capped paths are taken as they are: keeps this linear */
        return 0;
    }
    if (j < n && !end_delim((unsigned char)s[j]))
        return 0;
    return j;
}

static void report_text_uri(const char *raw, size_t rl, int mail,
                            uri_fn fn, void *ctx)
{
    /* ')' ends the URI unless a '(' comes before it */
    const char *par = memchr(raw, ')', rl);
    if (par && !memchr(raw, '(', (size_t)(par - raw)))
        rl = (size_t)(par - raw);
    while (rl && strchr("-~!@#^&*()_+=:;'?,.", raw[rl - 1]))
        rl--;
    if (rl && (unsigned char)raw[rl - 1] == 0xc2) /* half an NBSP */
        rl--;
    if (!rl)
        return;
    if (mail && !memchr(raw, '@', rl))
        return;
    if (rl >= 4 && (lc(raw[0]) == 'c' || lc(raw[0]) == 'm') && lc(raw[1]) == 'i' &&
        lc(raw[2]) == 'd' && raw[3] == ':')
        return;
    {   /* empty: "scheme:" "scheme://" */
        size_t i = 0;
        while (i < rl && is_word((unsigned char)raw[i]))
            i++;
        if (i > 0 && i < rl && raw[i] == ':') {
            size_t k = i + 1;
            while (k < rl && k - i <= 2 && raw[k] == '/')
                k++;
            if (k == rl)
                return;
        }
    }
    tg_buf u;
    tg_buf_init(&u);
    if (prefix_ci(raw, rl, "http:") || prefix_ci(raw, rl, "https:") ||
        prefix_ci(raw, rl, "ftp:") || prefix_ci(raw, rl, "mailto:")) {
        tg_buf_add(&u, raw, rl);
    } else if (prefix_ci(raw, rl, "ftp.")) {
        tg_buf_adds(&u, "ftp://");
        tg_buf_add(&u, raw, rl);
    } else if (known_scheme(raw, rl) && lc(raw[0]) == 'w') {
        tg_buf_adds(&u, "http://");
        tg_buf_add(&u, raw, rl);
    } else {
        const char *at = memchr(raw, '@', rl);
        const char *sl = memchr(raw, '/', rl);
        if (at && sl && sl < at && at > sl + 1) {
            tg_buf_adds(&u, "http://");
            tg_buf_add(&u, raw, rl);
        } else if (at) {
            const char *dot = memchr(at + 1, '.', rl - (size_t)(at + 1 - raw));
            if (!dot || dot == at + 1 || tg_memcasemem(raw, rl, "&nbsp;", 6)) {
                tg_buf_free(&u);
                return;
            }
            size_t k = 0;
            if (prefix_ci(raw, rl, "skype"))
                k = 5;
            else if (prefix_ci(raw, rl, "e-mail"))
                k = 6;
            else if (prefix_ci(raw, rl, "email"))
                k = 5;
            else if (prefix_ci(raw, rl, "-mail"))
                k = 5;
            else if (prefix_ci(raw, rl, "mail"))
                k = 4;
            if (k < rl && raw[k] == ':') {
                while (k < rl && raw[k] == ':')
                    k++;
            } else {
                k = 0;
                while (k < rl && raw[k] == ':')
                    k++;
            }
            tg_buf_adds(&u, "mailto:");
            tg_buf_add(&u, raw + k, rl - k);
        } else {
            if (!memchr(raw, '.', rl)) {
                tg_buf_free(&u);
                return;
            }
            tg_buf_adds(&u, "http://");
            tg_buf_add(&u, raw, rl);
        }
    }
    if (prefix_ci(u.s, u.len, "mailto:")) {
        const char *at = memchr(u.s, '@', u.len);
        size_t hs = at ? (size_t)(at + 1 - u.s) : u.len;
        size_t he = hs;
        while (he < u.len && u.s[he] != '?' && u.s[he] != '&' && u.s[he] != '>')
            he++;
        while (he >= hs + 3 && memcmp(u.s + he - 3, "%20", 3) == 0)
            he -= 3;
        if (!at || !host_ok(u.s + hs, he - hs)) {
            tg_buf_free(&u);
            return;
        }
    }
    fn(ctx, u.s, u.len);
    tg_buf_free(&u);
}

void uri_from_text(const char *s, size_t n, uri_fn fn, void *ctx)
{
    size_t i = 0;
    /* next '@' and next e-mail delimiter at or after i, kept incrementally
     * so that looking for "local@" stays linear */
    size_t next_at = 0, next_ed = 0;
    while (next_at < n && s[next_at] != '@')
        next_at++;
    while (next_ed < n && !end_delim_email((unsigned char)s[next_ed]))
        next_ed++;
    while (i < n) {
        unsigned char prev = i ? (unsigned char)s[i - 1] : ' ';
        unsigned char c = (unsigned char)s[i];
        int boundary = i == 0 || start_delim(prev) ||
                       (is_word(prev) != is_word(c)) ||
                       (i >= 3 && s[i - 3] == 0x1b && s[i - 2] == '(');
        if (!boundary) {
            i++;
            continue;
        }
        /* known scheme */
        int c0 = lc(c);
        size_t k = (c0 == 'h' || c0 == 'f' || c0 == 'w') ? known_scheme(s + i, n - i) : 0;
        if (k) {
            size_t e = i;
            while (e < n && e - i < URI_MAX && !end_delim((unsigned char)s[e]))
                e++;
            if (e > i + k) {
                report_text_uri(s + i, e - i, 0, fn, ctx);
                i = e;
                continue;
            }
        }
        /* mail: mailto:... or local@domain */
        if (c0 == 'm' && prefix_ci(s + i, n - i, "mailto:")) {
            size_t e = i + 7;
            while (e < n && e - i < URI_MAX && !end_delim_email((unsigned char)s[e]))
                e++;
            if (e > i + 7) {
                report_text_uri(s + i, e - i, 1, fn, ctx);
                i = e;
                continue;
            }
        }
        if (!end_delim_email(c) && c != '@') {
            if (next_at < i) {
                next_at = i;
                while (next_at < n && s[next_at] != '@')
                    next_at++;
            }
            if (next_ed < i) {
                next_ed = i;
                while (next_ed < n && !end_delim_email((unsigned char)s[next_ed]))
                    next_ed++;
            }
            size_t a = next_at;
            if (a < n && a < next_ed && a - i <= 251) {
                size_t e = a + 1;
                while (e < n && e - a <= 251 && !end_delim_email((unsigned char)s[e]))
                    e++;
                if (e > a + 1) {
                    report_text_uri(s + i, e - i, 1, fn, ctx);
                    i = e;
                    continue;
                }
            }
        }
        if (i == 0 || sc_start_delim(prev)) {
            size_t e = schemeless(s + i, n - i);
            if (e) {
                report_text_uri(s + i, e, 0, fn, ctx);
                i += e;
                continue;
            }
        }
        i++;
    }
}

/* ---- canonicalisation ------------------------------------------------ */

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lc(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Util::url_encode: decode printable %XX, encode raw controls/8-bit. */
static void url_fix(const char *s, size_t n, tg_buf *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int h1, h2;
        if (c == '%' && i + 2 < n && (h1 = hexv(s[i + 1])) >= 0 &&
            (h2 = hexv(s[i + 2])) >= 0) {
            int v = h1 * 16 + h2;
            if (h1 >= 2 && h1 <= 7 && v != 0x20 && v != 0x7f)
                tg_buf_addc(out, (char)v);
            else
                tg_buf_add(out, s + i, 3);
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f || c == '"' || c == '%' || c == '<' ||
                   c == '>') {
            char e[3] = {'%', hx[c >> 4], hx[c & 15]};
            tg_buf_add(out, e, 3);
        } else {
            tg_buf_addc(out, (char)c);
        }
    }
}

static int has_pct(const char *s, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++)
        if (s[i] == '%' && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0)
            return 1;
    return 0;
}

/* One octet of a dotted host: 0x.. hex, 0-prefixed octal, or decimal,
 * normalised as Util::uri_list_canonicalize does. */
static void octet(const char *s, size_t n, tg_buf *out)
{
    if (n > 2 && s[0] == '0' && lc((unsigned char)s[1]) == 'x') {
        unsigned long long v = 0;
        for (size_t i = 2; i < n && i < 18; i++)
            v = v * 16 + (unsigned long long)hexv(s[i]);
        tg_buf_printf(out, "%llu", v);
        return;
    }
    size_t z = 0;
    while (z < n && s[z] == '0')
        z++;
    /* s/^0+([1-3][0-7]{0,2}|[4-7][0-7]?)\b/oct/ */
    if (z > 0 && z < n) {
        size_t k = z, max = (s[z] >= '1' && s[z] <= '3') ? 3 : (s[z] >= '4' && s[z] <= '7') ? 2 : 0;
        while (k < n && k - z < max && s[k] >= '0' && s[k] <= '7')
            k++;
        if (max && k == n) {
            unsigned v = 0;
            for (size_t i = z; i < k; i++)
                v = v * 8 + (unsigned)(s[i] - '0');
            tg_buf_printf(out, "%u", v);
            return;
        }
    }
    if (z == n) /* s/^0+// leaves nothing */
        return;
    tg_buf_add(out, s + z, n - z);
}

/* Dotted-quad of decimal/hex/octal parts, 0x-hex or decimal integer host:
 * appends the plain IPv4 form to out and returns 1. */
static int ip_variant(const char *h, size_t n, tg_buf *out)
{
    size_t parts = 0, st = 0;
    int ok = n > 0;
    for (size_t i = 0; i <= n && ok; i++) {
        if (i == n || h[i] == '.') {
            size_t l = i - st;
            if (l == 0)
                ok = 0;
            else if (l > 2 && h[st] == '0' && lc((unsigned char)h[st + 1]) == 'x') {
                for (size_t k = st + 2; k < i; k++)
                    ok &= hexv(h[k]) >= 0;
            } else {
                for (size_t k = st; k < i; k++)
                    ok &= h[k] >= '0' && h[k] <= '9';
            }
            parts++;
            st = i + 1;
        }
    }
    if (!ok)
        return 0;
    if (parts == 4) {
        st = 0;
        for (size_t i = 0; i <= n; i++)
            if (i == n || h[i] == '.') {
                octet(h + st, i - st, out);
                if (i < n)
                    tg_buf_addc(out, '.');
                st = i + 1;
            }
        return 1;
    }
    if (parts != 1)
        return 0;
    unsigned long long v = 0;
    if (n > 2 && h[0] == '0' && lc((unsigned char)h[1]) == 'x') {
        size_t from = n - 2 > 8 ? n - 8 : 2; /* the last 4 octets */
        for (size_t i = from; i < n; i++)
            v = v * 16 + (unsigned long long)hexv(h[i]);
    } else {
        for (size_t i = 0; i < n; i++)
            v = v * 10 + (unsigned long long)(h[i] - '0');
    }
    v &= 0xffffffffull;
    tg_buf_printf(out, "%llu.%llu.%llu.%llu", v >> 24, (v >> 16) & 255,
                  (v >> 8) & 255, v & 255);
    return 1;
}

static void canon(const char *u0, size_t n0, uri_fn fn, void *ctx, int depth)
{
    tg_buf u, nu, t;
    tg_buf_init(&u);
    tg_buf_init(&nu);
    tg_buf_init(&t);
    for (size_t i = 0; i < n0; i++)
        if (u0[i] != '\n' && u0[i] != '\r')
            tg_buf_addc(&u, u0[i]);
    size_t st = 0, en = u.len;
    while (st < en && is_space((unsigned char)u.s[st]))
        st++;
    while (en > st && is_space((unsigned char)u.s[en - 1]))
        en--;
    const char *s = u.s ? u.s + st : "";
    size_t n = en - st;
    fn(ctx, s, n); /* the original, after newline/CR/whitespace cleanup */
    if (n <= 1 || s[0] == '#' || s[0] == '?' || s[0] == '&' ||
        (s[0] == '/' && s[1] != '/'))
        goto out;
    const char *at = memchr(s, '@', n);
    const char *colon = memchr(s, ':', n);
    if (prefix_ci(s, n, "mailto:") || (at && (!colon || colon > at))) {
        const char *q = at ? memchr(at, '?', n - (size_t)(at - s)) : NULL;
        if (at && q && q > at + 1)
            fn(ctx, s, (size_t)(q - s));
        const char *amp = NULL;
        if (at) {
            for (const char *p = at + 1; p < s + n && *p != '?'; p++)
                if (*p == '&') {
                    amp = p;
                    break;
                }
        }
        if (amp && amp > at + 1)
            fn(ctx, s, (size_t)(amp - s));
        /* "%20" padding around the address */
        if (memmem(s, n, "%20", 3)) {
            size_t k = prefix_ci(s, n, "mailto:") ? 7 : 0;
            while (k + 3 <= n && memcmp(s + k, "%20", 3) == 0)
                k += 3;
            size_t e = k;
            while (e < n && s[e] != '@')
                e++;
            if (e < n && e > k) {
                size_t f = e + 1;
                while (f < n && s[f] != '?' && s[f] != '&' && s[f] != '%')
                    f++;
                if (f > e + 1) {
                    tg_buf_adds(&t, "mailto:");
                    tg_buf_add(&t, s + k, f - k);
                    fn(ctx, t.s, t.len);
                    tg_buf_reset(&t);
                }
            }
        }
        /* mailto:"Foo Bar" <foo.bar@example.com> */
        {
            size_t k = 0;
            while (k < n && s[k] != '?' && s[k] != '&' && s[k] != '<')
                k++;
            if (k < n && s[k] == '<') {
                const char *gt = memchr(s + k, '>', n - k);
                const char *a2 = memchr(s + k, '@', n - k);
                if (gt && a2 && a2 < gt && a2 > s + k + 1 && gt > a2 + 1) {
                    tg_buf_adds(&t, "mailto:");
                    tg_buf_add(&t, s + k + 1, (size_t)(gt - s) - k - 1);
                    fn(ctx, t.s, t.len);
                    tg_buf_reset(&t);
                }
            }
        }
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        tg_buf_addc(&nu, s[i] == '\\' ? '/' : s[i]);
    if (prefix_ci(nu.s, nu.len, "http:") || prefix_ci(nu.s, nu.len, "https:")) {
        size_t sc = nu.s[4] == ':' ? 5 : 6, k = sc;
        while (k < nu.len && k - sc < 2 && nu.s[k] == '/')
            k++;
        tg_buf_add(&t, nu.s, sc);
        tg_buf_adds(&t, "//");
        tg_buf_add(&t, nu.s + k, nu.len - k);
        tg_buf_reset(&nu);
        tg_buf_add(&nu, t.s, t.len);
        tg_buf_reset(&t);
    }
    if (has_pct(nu.s, nu.len)) {
        url_fix(nu.s, nu.len, &t);
        tg_buf_reset(&nu);
        tg_buf_add(&nu, t.s, t.len);
        tg_buf_reset(&t);
    }
    {   /* no scheme: http:// (ftp:// for ftp.) */
        size_t k = 0;
        while (k < nu.len && (is_word((unsigned char)nu.s[k]) || nu.s[k] == '-'))
            k++;
        if (!(k > 0 && k < nu.len && nu.s[k] == ':')) {
            tg_buf_adds(&t, strncmp(nu.s, "ftp.", 4) == 0 ? "ftp://" : "http://");
            tg_buf_add(&t, nu.s, nu.len);
            tg_buf_reset(&nu);
            tg_buf_add(&nu, t.s, t.len);
            tg_buf_reset(&t);
        }
    }
    size_t hs = 0;
    if (prefix_ci(nu.s, nu.len, "http://"))
        hs = 7;
    else if (prefix_ci(nu.s, nu.len, "https://"))
        hs = 8;
    if (hs) {
        size_t k = hs;
        while (k < nu.len && nu.s[k] != '/' && nu.s[k] != '?' && nu.s[k] != '#')
            k++;
        if (k < nu.len && k > hs && nu.s[k] != '/') {
            tg_buf_add(&t, nu.s, k);
            tg_buf_addc(&t, '/');
            tg_buf_add(&t, nu.s + k, nu.len - k);
            tg_buf_reset(&nu);
            tg_buf_add(&nu, t.s, t.len);
            tg_buf_reset(&t);
        }
    }
    /* &#NN; for printable characters, unicode dots */
    for (size_t i = 0; i < nu.len; i++) {
        if (nu.s[i] == '&' && i + 2 < nu.len && nu.s[i + 1] == '#') {
            size_t k = i + 2;
            int hex = nu.s[k] == 'x' || nu.s[k] == 'X';
            if (hex)
                k++;
            unsigned long v = 0;
            size_t ds = k;
            while (k < nu.len && k - ds < 8 && hexv(nu.s[k]) >= 0 &&
                   (hex || (nu.s[k] >= '0' && nu.s[k] <= '9')))
                v = v * (hex ? 16 : 10) + (unsigned long)hexv(nu.s[k++]);
            if (k > ds && k < nu.len && nu.s[k] == ';') {
                if (v >= 33 && v <= 126) {
                    tg_buf_addc(&t, (char)v);
                    i = k;
                    continue;
                }
                if (v == 0x3002 || v == 0xff0e || v == 0xff61) {
                    tg_buf_addc(&t, '.');
                    i = k;
                    continue;
                }
            }
        }
        tg_buf_addc(&t, nu.s[i]);
    }
    tg_buf_reset(&nu);
    tg_buf_add(&nu, t.s ? t.s : "", t.len);
    tg_buf_reset(&t);
    if (nu.len != n || memcmp(nu.s, s, n) != 0)
        fn(ctx, nu.s, nu.len);
    if (hs && nu.len > hs) {
        /* proto, optional user@, host, rest */
        size_t k = hs, hstart = hs;
        while (k < nu.len && nu.s[k] != '@' && nu.s[k] != '/' && nu.s[k] != '?' &&
               nu.s[k] != '#')
            k++;
        if (k < nu.len && nu.s[k] == '@')
            hstart = k + 1;
        size_t he = hstart;
        while (he < nu.len && nu.s[he] != '/' && nu.s[he] != '?' && nu.s[he] != '#' &&
               nu.s[he] != ':')
            he++;
        const char *rest = nu.s + he;
        size_t rl = nu.len - he;
        if (he > hstart) {
            /* default port */
            const char *dp = hs == 7 ? ":80" : ":443";
            size_t dl = strlen(dp);
            if (rl >= dl && memcmp(rest, dp, dl) == 0 &&
                (rl == dl || !(rest[dl] >= '0' && rest[dl] <= '9'))) {
                tg_buf_add(&t, nu.s, he);
                tg_buf_add(&t, rest + dl, rl - dl);
                fn(ctx, t.s, t.len);
                tg_buf_reset(&t);
            }
            size_t hx = he;
            while (hx > hstart && !((nu.s[hx - 1] >= '0' && nu.s[hx - 1] <= '9') ||
                                    (lc(nu.s[hx - 1]) >= 'a' && lc(nu.s[hx - 1]) <= 'z')))
                hx--;
            if (hx < he) { /* "http://example.biz!!!" */
                tg_buf_add(&t, nu.s, hs);
                tg_buf_add(&t, nu.s + hstart, hx - hstart);
                tg_buf_add(&t, rest, rl);
                fn(ctx, t.s, t.len);
                tg_buf_reset(&t);
            }
            /* hosts that are IPv4 addresses in disguise */
            if (ip_variant(nu.s + hstart, he - hstart, &t)) {
                tg_buf v;
                tg_buf_init(&v);
                tg_buf_add(&v, nu.s, hs);
                tg_buf_add(&v, t.s, t.len);
                tg_buf_add(&v, rest, rl);
                fn(ctx, v.s, v.len);
                tg_buf_free(&v);
                tg_buf_reset(&t);
            }
            /* http://foobar -> http://www.foobar.com, as Firefox does */
            /* no port, an empty one or :80 */
            size_t pd = 1;
            while (rl && pd < rl && rest[pd] >= '0' && rest[pd] <= '9')
                pd++;
            int port80 = rl == 0 || rest[0] != ':' || pd == 1 ||
                         (pd == 3 && rest[1] == '8' && rest[2] == '0');
            size_t ls = hstart;
            if (he - hstart > 4 && tg_strncasecmp(nu.s + hstart, "www.", 4) == 0)
                ls += 4;
            if (hs == 7 && hstart == hs && port80 && he > ls &&
                !memchr(nu.s + ls, '.', he - ls) &&
                !(he - hstart == 9 && tg_strncasecmp(nu.s + hstart, "localhost", 9) == 0)) {
                tg_buf_add(&t, nu.s, hs);
                tg_buf_adds(&t, "www.");
                for (size_t k2 = ls; k2 < he; k2++)
                    tg_buf_addc(&t, (char)lc((unsigned char)nu.s[k2]));
                tg_buf_adds(&t, ".com");
                tg_buf_add(&t, rest, rl);
                fn(ctx, t.s, t.len);
                tg_buf_reset(&t);
            }
            /* redirector: an http URL inside the rest */
            if (depth < URI_CANON_DEPTH) {
                for (size_t r = 0; r + 5 < rl; r++) {
                    if ((lc(rest[r]) == 'h') && (prefix_ci(rest + r, rl - r, "http:") ||
                                                 prefix_ci(rest + r, rl - r, "https:"))) {
                        size_t e = r;
                        while (e < rl && rest[e] != '&' && rest[e] != '#')
                            e++;
                        if (memchr(rest + r, '.', e - r))
                            canon(rest + r, e - r, fn, ctx, depth + 1);
                        break;
                    }
                }
            }
        }
    }
out:
    tg_buf_free(&u);
    tg_buf_free(&nu);
    tg_buf_free(&t);
}

void uri_canonicalize(const char *u, size_t n, uri_fn fn, void *ctx)
{
    canon(u, n, fn, ctx, 0);
}

/* Util::is_fqdn_valid on an ASCII host */
static int fqdn_valid(const char *h, size_t n)
{
    while (n && h[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return 0;
    size_t labels = 1;
    for (size_t i = 0; i < n; i++)
        labels += h[i] == '.';
    if (labels < 2)
        return 0;
    size_t i = 0, left = labels;
    while (i <= n) {
        size_t j = i;
        while (j < n && h[j] != '.')
            j++;
        size_t l = j - i;
        if (l < 1 || l > 63)
            return 0;
        for (size_t k = i; k < j; k++) {
            int c = lc((unsigned char)h[k]);
            int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                     (c == '-' && k != i && k != j - 1);
            if (!ok || (c == '_' && left <= 2))
                return 0;
        }
        left--;
        i = j + 1;
    }
    return 1;
}

static int is_ipv4(const char *h, size_t n)
{
    int dots = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '.') {
            if (!digits)
                return 0;
            dots++;
            digits = 0;
        } else if (h[i] >= '0' && h[i] <= '9') {
            if (++digits > 3)
                return 0;
        } else {
            return 0;
        }
    }
    return dots == 3 && digits;
}

int uri_has_domain(const char *u, size_t n)
{
    if (prefix_ci(u, n, "javascript:") || prefix_ci(u, n, "cid:") ||
        prefix_ci(u, n, "file:"))
        return 0;
    const char *h;
    size_t hl;
    if (prefix_ci(u, n, "mailto:")) {
        const char *q = memchr(u, '?', n);
        size_t e = q ? (size_t)(q - u) : n;
        const char *at = memchr(u + 7, '@', e - 7);
        if (!at)
            return 0;
        if (memchr(at + 1, '@', e - (size_t)(at + 1 - u)))
            return 0;
        h = at + 1;
        hl = e - (size_t)(h - u);
    } else {
        size_t i = 0;
        while (i < n && lc((unsigned char)u[i]) >= 'a' && lc((unsigned char)u[i]) <= 'z')
            i++;
        if (i > 0 && i < n && u[i] == ':') {
            i++;
            for (int k = 0; k < 2 && i < n && u[i] == '/'; k++)
                i++;
        } else {
            i = 0;
        }
        size_t e = i;
        while (e < n && u[e] != '/' && u[e] != '?' && u[e] != '#')
            e++;
        h = u + i;
        hl = e - i;
        const char *at = NULL;
        for (size_t k = 0; k < hl; k++)
            if (h[k] == '@')
                at = h + k;
        if (at) {
            hl -= (size_t)(at + 1 - h);
            h = at + 1;
        }
        size_t p = hl;
        while (p > 0 && h[p - 1] >= '0' && h[p - 1] <= '9')
            p--;
        if (p > 0 && h[p - 1] == ':')
            hl = p - 1;
    }
    for (size_t k = 0; k + 2 < hl; k++) { /* %-encoded printable: abort */
        if (h[k] != '%')
            continue;
        int a = lc((unsigned char)h[k + 1]), b = lc((unsigned char)h[k + 2]);
        int v = (a >= '0' && a <= '9' ? a - '0' : a >= 'a' && a <= 'f' ? a - 'a' + 10 : -100) * 16 +
                (b >= '0' && b <= '9' ? b - '0' : b >= 'a' && b <= 'f' ? b - 'a' + 10 : -100);
        if (v >= 0x21 && v <= 0x7e)
            return 0;
    }
    if (is_ipv4(h, hl))
        return 1;
    if (!fqdn_valid(h, hl))
        return 0;
    while (hl && h[hl - 1] == '.')
        hl--;
    size_t d = hl;
    while (d > 0 && h[d - 1] != '.')
        d--;
    return d > 0 && tld_ok(h + d, hl - d);
}
