/*
 * corpus — message files for the test and bench programs.
 */
#ifndef TG_CORPUS_H
#define TG_CORPUS_H

#include <stddef.h>

/* Appends to *files (capacity *cap, count *n) the *.eml files of directory
 * path in name order, or path itself if it is not a directory. The strings
 * are malloc'd and owned by the caller. Returns -1 if a directory cannot
 * be opened. */
int corpus_add(const char *path, char ***files, size_t *n, size_t *cap);

#endif
