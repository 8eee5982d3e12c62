/* libFuzzer target: the Vectorscan expression rewriters (hsexpr) on an
 * arbitrary pattern, and the reversal on each form they write and on its
 * own output. Must never crash, leak or hang; NULL answers are fine. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "hsexpr.h"
#include "util.h"

static void reverse_twice(const char *e)
{
    char *r = hsexpr_reverse(e);
    if (r) {
        char *rr = hsexpr_reverse(r);
        free(rr);
    }
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    unsigned flags = data[0] & (CF_RE_I | CF_RE_M | CF_RE_S | CF_RE_X);
    char *pat = tg_strndup((const char *)data + 1, size - 1);
    reverse_twice(pat);
    char *forms[8];
    long width;
    int gaps;
    forms[0] = hsexpr_plain(pat, flags);
    forms[1] = hsexpr_latin1_exact(pat, flags);
    forms[2] = hsexpr_latin1_prefilter(pat, flags);
    forms[3] = hsexpr_ascii(pat, flags, 0);
    forms[4] = hsexpr_ascii(pat, flags, 2);
    forms[5] = hsexpr_relaxed(pat, flags, 2);
    forms[6] = hsexpr_relaxed(pat, flags, 4);
    forms[7] = hsexpr_squash(pat, flags, &width, &gaps);
    for (int i = 0; i < 8; i++) {
        if (forms[i]) {
            reverse_twice(forms[i]);
            (void)hsexpr_literal_free(forms[i]);
        }
        free(forms[i]);
    }
    (void)hsexpr_literal_free(pat);
    (void)hsexpr_min_ends(pat, flags);
    (void)hsexpr_nested_repeat(pat);
    (void)hsexpr_repeat_size(pat);
    static const unsigned char fffd[32] = {[0xEF >> 3] = 1u << (0xEF & 7),
                                           [0xBF >> 3] = 1u << (0xBF & 7) | 1u << (0xBD & 7)};
    (void)hsexpr_alike(pat, flags, fffd, 0x1a);
    free(pat);
    return 0;
}
