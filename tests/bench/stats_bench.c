/*
 * stats_bench — cost of stats_record() per message, from 1 and 2 threads
 * at once, with the pending batch on (as when counters go to Redis): one
 * tenant and three rule hits per message, like a typical spam verdict.
 * Prints ns per record (median of 5 runs). Figures, never pass/fail.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "keys.h"
#include "stats.h"

#define PER_THREAD 200000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
    (void)arg;
    const char *tenants[] = {"acme"};
    const char *hits[] = {"TG_SPF_FAIL", "BAYES_99", "URIBL_BLACK"};
    stats_rec_t r = {.dir = STATS_IN, .tenants = tenants, .ntenants = 1, .rcpts = 2,
                     .bytes = 4096, .verdict = STATS_V_SPAM, .action = STATS_A_REJECT,
                     .hits = hits, .nhits = 3};
    for (int i = 0; i < PER_THREAD; i++)
        stats_record(&r);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    keys_set_timezone("Europe/London");
    stats_init();
    stats_set_pending(1);
    for (int threads = 1; threads <= 2; threads++) {
        double ns[5];
        for (int run = 0; run < 5; run++) {
            pthread_t t[2];
            double t0 = now();
            for (int i = 0; i < threads; i++)
                pthread_create(&t[i], NULL, worker, NULL);
            for (int i = 0; i < threads; i++)
                pthread_join(t[i], NULL);
            double el = now() - t0;
            ns[run] = el * 1e9 / ((double)PER_THREAD * threads);
            int64_t wm;
            batch_free(stats_take(&wm)); /* what the flusher would take */
        }
        qsort(ns, 5, sizeof ns[0], cmp);
        printf("stats_record, %d thread%s: %.0f ns per message (median of 5; wall time / records)\n",
               threads, threads > 1 ? "s at once" : "", ns[2]);
    }
    stats_shutdown();
    return 0;
}
