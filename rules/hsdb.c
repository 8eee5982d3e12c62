#include "hsdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HSDB_MAGIC "TGHSDB01"
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdatomic.h>
#define HSDB_MAX (1ull << 31) /* refuse absurd sizes in a corrupt header */

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void hsdb_key_init(hsdb_key_t *k)
{
    k->a = 0xcbf29ce484222325ull;
    k->b = 0x84222325cbf29ce4ull;
    hsdb_key_adds(k, HSDB_MAGIC);
    hsdb_key_adds(k, hs_version());
    /* the routing reads patterns with PCRE2 too (class bytes, syntax) */
    char pv[64] = "";
    pcre2_config(PCRE2_CONFIG_VERSION, pv);
    hsdb_key_adds(k, pv);
}

void hsdb_key_add(hsdb_key_t *k, const void *data, size_t len)
{
    uint64_t n = len;
    k->a = fnv(k->a, &n, sizeof n);
    k->a = fnv(k->a, data, len);
    /* second lane: same bytes, different seed and a rotation per step */
    k->b = fnv((k->b << 7) | (k->b >> 57), data, len);
    k->b = fnv(k->b, &n, sizeof n);
}

void hsdb_key_adds(hsdb_key_t *k, const char *s)
{
    if (!s) {
        hsdb_key_add(k, "\xff\xfe", 2);
        return;
    }
    hsdb_key_add(k, s, strlen(s));
}

static void entry_path(char *out, size_t outlen, const char *dir, const hsdb_key_t *key)
{
    snprintf(out, outlen, "%s/%016llx%016llx.hsdb", dir, (unsigned long long)key->a,
             (unsigned long long)key->b);
}

/* Header: magic[8] key.a key.b metalen dblen (u64, host order); then meta,
 * db bytes, and a u64 FNV checksum of everything before it. */
int hsdb_load(const char *dir, const hsdb_key_t *key, unsigned char **meta,
              size_t *metalen, hs_database_t **db)
{
    char path[4096];
    entry_path(path, sizeof path, dir, key);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    unsigned char hdr[40];
    unsigned char *buf = NULL;
    int ok = 0;
    uint64_t ka, kb, ml, dl, sum;
    if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr || memcmp(hdr, HSDB_MAGIC, 8))
        goto out;
    memcpy(&ka, hdr + 8, 8);
    memcpy(&kb, hdr + 16, 8);
    memcpy(&ml, hdr + 24, 8);
    memcpy(&dl, hdr + 32, 8);
    if (ka != key->a || kb != key->b || ml > HSDB_MAX || dl > HSDB_MAX)
        goto out;
    buf = malloc(ml + dl + 1);
    if (!buf || fread(buf, 1, ml + dl, f) != ml + dl || fread(&sum, 1, 8, f) != 8 ||
        fgetc(f) != EOF)
        goto out;
    uint64_t h = fnv(0xcbf29ce484222325ull, hdr, sizeof hdr);
    if (fnv(h, buf, ml + dl) != sum)
        goto out;
    hs_database_t *d = NULL;
    if (dl && hs_deserialize_database((const char *)buf + ml, dl, &d) != HS_SUCCESS)
        goto out;
    unsigned char *m = malloc(ml ? ml : 1);
    if (!m) {
        if (d)
            hs_free_database(d);
        goto out;
    }
    memcpy(m, buf, ml);
    *db = d;    /* set only on success: the caller frees what it was given */
    *meta = m;
    *metalen = ml;
    ok = 1;
out:
    free(buf);
    fclose(f);
    return ok;
}

int hsdb_store(const char *dir, const hsdb_key_t *key, const unsigned char *meta,
               size_t metalen, const hs_database_t *db)
{
    char *bytes = NULL;
    size_t dl = 0;
    if (db && hs_serialize_database(db, &bytes, &dl) != HS_SUCCESS)
        return -1;
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    for (char *s = parent + 1; *s; s++) /* mkdir -p */
        if (*s == '/') {
            *s = 0;
            mkdir(parent, 0755);
            *s = '/';
        }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        free(bytes);
        return -1;
    }
    char path[4096], tmp[4200];
    entry_path(path, sizeof path, dir, key);
    /* unique per writer: the build threads of one process may store the
     * same entry at once (classes with the same rules) */
    static atomic_uint seq;
    snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", path, (long)getpid(), atomic_fetch_add(&seq, 1));
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(bytes);
        return -1;
    }
    unsigned char hdr[40];
    uint64_t ml = metalen, d64 = dl;
    memcpy(hdr, HSDB_MAGIC, 8);
    memcpy(hdr + 8, &key->a, 8);
    memcpy(hdr + 16, &key->b, 8);
    memcpy(hdr + 24, &ml, 8);
    memcpy(hdr + 32, &d64, 8);
    uint64_t h = fnv(0xcbf29ce484222325ull, hdr, sizeof hdr);
    h = fnv(h, meta, metalen);
    h = fnv(h, bytes, dl);
    int bad = fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr ||
              fwrite(meta, 1, metalen, f) != metalen ||
              (dl && fwrite(bytes, 1, dl, f) != dl) || fwrite(&h, 1, 8, f) != 8;
    bad |= fclose(f) != 0;
    free(bytes);
    if (bad || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}
