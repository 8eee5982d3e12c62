#include "corpus.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

static int cmp_s(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int corpus_add(const char *path, char ***files, size_t *n, size_t *cap)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        tg_grow(files, cap, *n + 1, sizeof **files);
        (*files)[(*n)++] = tg_strdup(path);
        return 0;
    }
    DIR *d = opendir(path);
    if (!d)
        return -1;
    size_t first = *n;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strstr(de->d_name, ".eml"))
            continue;
        tg_buf b;
        tg_buf_init(&b);
        tg_buf_printf(&b, "%s/%s", path, de->d_name);
        tg_grow(files, cap, *n + 1, sizeof **files);
        (*files)[(*n)++] = tg_buf_steal(&b);
    }
    closedir(d);
    qsort(*files + first, *n - first, sizeof **files, cmp_s);
    return 0;
}
