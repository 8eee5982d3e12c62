/*
 * hsdb — an on-disk cache of compiled Vectorscan databases.
 *
 * An entry is one file DIR/<key>.hsdb holding a small metadata blob (the
 * caller's routing decisions) and the serialized database
 * (hs_serialize_database). The key is a 128-bit hash of whatever the
 * caller feeds (patterns, flags) plus a format version and hs_version(),
 * so a change of rules or library version selects another file. A file
 * that is truncated, corrupt (checksum), for another key or that
 * Vectorscan refuses to deserialize (other platform/version) is treated
 * as missing; the caller rebuilds and stores over it. Writes go to a
 * temporary file renamed into place, so concurrent writers and readers
 * never see half a file.
 */
#ifndef TG_HSDB_H
#define TG_HSDB_H

#include <hs/hs.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hsdb_key {
    uint64_t a, b;
} hsdb_key_t;

/* Starts a key already covering the cache format and hs_version(). */
void hsdb_key_init(hsdb_key_t *k);
void hsdb_key_add(hsdb_key_t *k, const void *data, size_t len);
/* Adds a NUL-terminated string (NULL allowed, distinct from ""). */
void hsdb_key_adds(hsdb_key_t *k, const char *s);

/* Looks the entry up. Returns 1 and fills *meta (malloc'd, caller frees),
 * *metalen and *db (NULL if the entry was stored without a database;
 * caller frees with hs_free_database); 0 if missing or unusable (then
 * nothing is allocated). */
int hsdb_load(const char *dir, const hsdb_key_t *key, unsigned char **meta,
              size_t *metalen, hs_database_t **db);

/* Stores the entry (db may be NULL). Creates dir if needed. 0 or -1 (the
 * cache is best effort: a failure only costs a recompile next time). */
int hsdb_store(const char *dir, const hsdb_key_t *key, const unsigned char *meta,
               size_t metalen, const hs_database_t *db);

#endif
