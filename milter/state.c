#include "state.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The pointer swap and the reference taken by state_acquire must not
 * interleave with a release of the same snapshot: a mutex held for a few
 * instructions, never across I/O. */
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;
static state_t *state_current;
static unsigned long state_gen;

int state_load(const char *path, const char *socket_override, int quick, state_t **out,
               char *err, size_t errlen)
{
    config_t *cfg;
    if (path) {
        if (config_load(path, &cfg, err, errlen) < 0)
            return -1;
    } else {
        cfg = config_default();
    }
    if (socket_override) {
        free(cfg->socket);
        cfg->socket = tg_strdup(socket_override);
    }
    int provisional = quick && !cfg->matcher_oracle;
    rules_options_t ro = {
        .match_limit = cfg->match_limit,
        .matcher = cfg->matcher_oracle || provisional ? RULES_MATCHER_ORACLE : RULES_MATCHER_FAST,
        .cache_dir = *cfg->cache_dir ? cfg->cache_dir : NULL,
        .scan_memo = cfg->scan_memo ? (long)cfg->scan_memo : -1,
    };
    rules_t *rs;
    if (rules_load((const char *const *)cfg->rules, cfg->nrules, &ro, &rs, err,
                   errlen) < 0) {
        config_free(cfg);
        return -1;
    }
    state_t *s = tg_calloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->cfg = cfg;
    s->rules = rs;
    s->provisional = provisional;
    msg_limits_default(&s->limits);
    s->limits.max_scan = cfg->max_scan;
    s->limits.max_depth = cfg->max_depth;
    s->limits.max_parts = cfg->max_parts;
    s->limits.max_headers = cfg->max_headers;
    s->limits.max_header_len = cfg->max_header_len;
    s->gate = gate_new(cfg->scan_concurrency);
    *out = s;
    return 0;
}

static void state_free(state_t *s)
{
    rules_unref(s->rules);
    gate_free(s->gate);
    config_free(s->cfg);
    free(s);
}

void state_release(state_t *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        state_free(s);
}

void state_install(state_t *s)
{
    pthread_mutex_lock(&state_mu);
    state_t *old = state_current;
    s->generation = ++state_gen;
    state_current = s;
    pthread_mutex_unlock(&state_mu);
    state_release(old);
}

state_t *state_acquire(void)
{
    pthread_mutex_lock(&state_mu);
    state_t *s = state_current;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&state_mu);
    return s;
}
