#include "rules.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "fast.h"
#include "meta.h"
#include "rx.h"
#include "tmpl.h"
#include "util.h"

#define RULES_NOTE_KINDS 3

/* One compiled rule. Strings are owned here. */
typedef struct rule {
    char *name;
    size_t cf_index;          /* its definition in the cf_set (while building) */
    cf_type_t type;
    int enabled;              /* defined, runnable, score != 0 */
    int scored;               /* name does not start with "__" */
    char *header;
    msg_hkey_t hkey;          /* header resolved (exists: rules), borrows header */
    int hmode;
    char *unset;
    int negate;
    double score;
    char *describe;
    unsigned tflags;
    unsigned maxhits;
    rules_category_t category;
    cf_action_t action;
    char *action_text;
    cf_cidr_t *cidrs;
    size_t ncidrs;
    unsigned spf_mask;
    int size_op;
    double size_val;
    unsigned limit_mask;
    unsigned dir_mask;
    unsigned local_mask;
    rx_t *re;                 /* NULL for a template rule */
    meta_expr_t *meta;
    int in_fast;              /* matched by rs->fast, not run_rule */
    int capture;              /* sets tags from its named groups (tmpl.h) */
    tmpl_t *tmpl;             /* uses %{TAG}: built and compiled per message */
    rx_t *skel;               /* tmpl_skeleton compiled (JIT), or NULL */
    unsigned reflags;         /* CF_RE_*, for tmpl */
} rule_t;

typedef struct note {
    char *where, *what;
    size_t count;
} note_t;

/* Identities for rulesets: a scratch knows the one it was made for even
 * after that ruleset is freed and its address reused. */
static atomic_ulong rules_gen = 1;

struct rules {
    atomic_int refs;
    unsigned long gen;        /* unique among the rulesets of the process */
    rule_t *rules;
    size_t nrules;
    size_t *meta_order;       /* enabled metas, dependencies first */
    size_t nmeta_order;
    /* The per-message loops, flattened: rules run_rule matches, and per
     * meta (in meta_order) its input slots, contiguous in min[] */
    size_t *run;
    size_t nrun;
    /* the same loop as run[] when not profiling: the exists: rules from
     * this compact copy, read in order instead of a rule_t each (with the
     * SpamAssassin rules and the fast matcher 74 of the 89 rules run[]
     * holds; the loop took 5.6 us a message, 4.7 this way), then the
     * others (runx) */
    struct xstep {
        msg_hkey_t hkey;      /* borrows the rule's header */
        uint32_t slot;
        int negate;
    } *xsteps;
    size_t nxsteps;
    size_t *runx;
    size_t nrunx;
    /* captured tags (tmpl.h): the rules that set them, in SpamAssassin's
     * order (its priority -10000 pass: header, body, uri, mimeheader,
     * rawbody, full rules, each kind in file order), taken once every
     * rule above has run (a capture rule that is a template rule runs
     * there); then the template rules that capture nothing, in file order */
    size_t *caprun, ncaprun;
    size_t *tmplrun, ntmplrun;
    struct mstep {
        const void *code;     /* meta_code of rules[slot].meta, in meta_code;
                                 NULL: meta_eval(rules[slot].meta) */
        uint32_t slot, ncells;
    } *msteps;
    /* [nmeta_order] 1 where the meta's value with no input set (meta_zero)
     * is not 0 (a "!A"): the message's meta pass starts from a copy, so it
     * evaluates those and the metas a set input reaches, and reads only
     * this byte of every other (values[] is 0 there already) */
    unsigned char *mset_init;
    /* Which meta steps read each slot: msteps indexes dep[dep_first[s] ..
     * dep_first[s + 1]) for slot s (nrules + 1 entries). A message sets a
     * few hundred of the slots; rules_match_all evaluates only the metas
     * some set slot reaches (reading every meta's inputs was 4,400 reads
     * and 13 us a message on the SpamAssassin rules). */
    unsigned *dep_first, *dep;
    void *meta_code;          /* the metas' evaluation code (meta_move_code) */
    rules_info_t info;
    note_t *notes[RULES_NOTE_KINDS];
    size_t nnotes[RULES_NOTE_KINDS], notecap[RULES_NOTE_KINDS];
    cf_thresholds_t thr;
    unsigned views;           /* MSG_VIEW_* the enabled rules read */
    rules_options_t opts;
    tg_map *byname;
    fast_t *fast;             /* NULL with the oracle matcher */
    /* trusted_networks, internal_networks, msa_networks (NULL if never
     * set) and originating_ip_headers, owned; trust points into them */
    rcvd_nets_t *nets[3];
    char **orig;
    size_t norig;
    rcvd_trust_t trust;
    int reads_relays;         /* an enabled rule reads X-Spam-Relays-* / ALL-* */
};

#define RULES_TCACHE 64
#define RULES_TMEMO 8

struct rules_scratch {
    unsigned long gen;        /* rules_t.gen of the ruleset it was made for */
    rx_scratch_t *rx;
    tg_buf tmp;
    double *values;
    size_t nvalues;
    fast_scratch_t *fast;     /* for rs->fast: made with the scratch, remade by
                                 rules_match_all for another ruleset */
    tmpl_tags_t *tags;        /* this message's captured tags */
    tg_buf tpat;              /* a template rule's pattern for this message */
    /* Template patterns compiled for earlier messages (the same recipient
     * comes back, mailing lists above all), replaced round-robin. */
    struct tcache {
        char *pat;            /* owned; NULL = empty slot */
        unsigned flags;
        rx_t *re;             /* owned */
    } tcache[RULES_TCACHE];
    size_t tcache_next;
    /* tag_may_occur's answers for this message's tags, by the strings
     * looked at (rule type, nosubject) and tag name (rules' own strings) */
    struct tmemo {
        int type, nosubj, result;
        const char *name;
    } tmemo[RULES_TMEMO];
    size_t ntmemo;
    int prof;
    double *rule_ns;          /* [nrule_ns] when profiling (rules_scratch_profile) */
    size_t nrule_ns;
    unsigned char *mset;      /* [mset_cap] by meta step: some input is set */
    size_t mset_cap;
};

/* ---- building ---------------------------------------------------------- */

static void add_note(rules_t *rs, int kind, const char *where, const char *what,
                     size_t count)
{
    tg_grow(&rs->notes[kind], &rs->notecap[kind], rs->nnotes[kind] + 1,
            sizeof(note_t));
    rs->notes[kind][rs->nnotes[kind]++] =
        (note_t){tg_strdup(where), tg_strdup(what), count};
}

static rules_category_t parse_category(const char *c)
{
    if (!c || !strcmp(c, "spam"))
        return RULES_CAT_SPAM;
    if (!strcmp(c, "security"))
        return RULES_CAT_SECURITY;
    return RULES_CAT_POLICY;
}

/* SpamAssassin's order of rule kinds within a priority (Check.pm
 * check_main; mimeheader rules are body evals). */
static int capture_rank(cf_type_t t)
{
    switch (t) {
    case CF_HEADER:     return 0;
    case CF_BODY:       return 1;
    case CF_URI:        return 2;
    case CF_MIMEHEADER: return 3;
    case CF_RAWBODY:    return 4;
    default:            return 5; /* full */
    }
}

/* The slot meta e's name j reads, or -1 (a name bound to no rule). */
static long input_slot(const rules_t *rs, const meta_expr_t *e, size_t j)
{
    long v = meta_slot(e, j);
    return v >= 0 && (size_t)v < rs->nrules ? v : -1;
}

/* Fills rs->run and rs->msteps from the rules, meta_order and in_fast. */
static void flatten(rules_t *rs)
{
    rs->run = tg_calloc(rs->nrules + 1, sizeof *rs->run);
    rs->runx = tg_calloc(rs->nrules + 1, sizeof *rs->runx);
    rs->xsteps = tg_calloc(rs->nrules + 1, sizeof *rs->xsteps);
    rs->caprun = tg_calloc(rs->nrules + 1, sizeof *rs->caprun);
    rs->tmplrun = tg_calloc(rs->nrules + 1, sizeof *rs->tmplrun);
    for (size_t i = 0; i < rs->nrules; i++) {
        const rule_t *r = &rs->rules[i];
        if (!r->enabled || r->type == CF_META)
            continue;
        if (r->capture)
            rs->caprun[rs->ncaprun++] = i;
        else if (r->tmpl)
            rs->tmplrun[rs->ntmplrun++] = i;
        if (!r->tmpl && !r->in_fast) {
            rs->run[rs->nrun++] = i;
            if (r->type == CF_EXISTS)
                rs->xsteps[rs->nxsteps++] =
                    (struct xstep){r->hkey, (uint32_t)i, r->negate};
            else
                rs->runx[rs->nrunx++] = i;
        }
    }
    /* stable: by kind, file order within a kind */
    for (size_t a = 1; a < rs->ncaprun; a++) {
        size_t v = rs->caprun[a], b = a;
        for (; b > 0 && capture_rank(rs->rules[rs->caprun[b - 1]].type) >
                        capture_rank(rs->rules[v].type); b--)
            rs->caprun[b] = rs->caprun[b - 1];
        rs->caprun[b] = v;
    }
    size_t nin = 0;
    for (size_t k = 0; k < rs->nmeta_order; k++)
        nin += meta_nnames(rs->rules[rs->meta_order[k]].meta);
    rs->msteps = tg_calloc(rs->nmeta_order + 1, sizeof *rs->msteps);
    rs->mset_init = tg_calloc(rs->nmeta_order + 1, 1);
    rs->dep_first = tg_calloc(rs->nrules + 2, sizeof *rs->dep_first);
    rs->dep = tg_calloc(nin + 1, sizeof *rs->dep);
    size_t code = 0;
    for (size_t k = 0; k < rs->nmeta_order; k++)
        code += meta_code_size(rs->rules[rs->meta_order[k]].meta);
    rs->meta_code = tg_malloc(code + 1);
    code = 0;
    for (size_t k = 0; k < rs->nmeta_order; k++) {
        size_t i = rs->meta_order[k];
        meta_expr_t *e = rs->rules[i].meta;
        size_t sz = meta_code_size(e);
        meta_move_code(e, (char *)rs->meta_code + code);
        code += sz;
        struct mstep *st = &rs->msteps[k];
        size_t ncells;
        st->code = meta_code(e, &ncells);
        st->slot = (uint32_t)i, st->ncells = (uint32_t)ncells;
        rs->mset_init[k] = meta_zero(e) != 0;
        for (size_t j = 0; j < meta_nnames(e); j++) {
            long v = input_slot(rs, e, j);
            if (v >= 0)
                rs->dep_first[v + 1]++;
        }
    }
    for (size_t v = 0; v < rs->nrules; v++)
        rs->dep_first[v + 1] += rs->dep_first[v];
    unsigned *fill = tg_calloc(rs->nrules + 1, sizeof *fill);
    for (size_t k = 0; k < rs->nmeta_order; k++) {
        const meta_expr_t *e = rs->rules[rs->msteps[k].slot].meta;
        for (size_t j = 0; j < meta_nnames(e); j++) {
            long v = input_slot(rs, e, j);
            if (v >= 0)
                rs->dep[rs->dep_first[v] + fill[v]++] = (unsigned)k;
        }
    }
    free(fill);
}

/* Orders enabled metas so that every meta comes after the metas it uses.
 * A cycle is an error at the definition of the meta that closes it. */
static int order_metas(rules_t *rs, cf_set_t *set, char *err, size_t errlen)
{
    unsigned char *state = tg_calloc(rs->nrules ? rs->nrules : 1, 1);
    size_t *stack = tg_malloc((rs->nrules + 1) * sizeof *stack);
    size_t *child = tg_malloc((rs->nrules + 1) * sizeof *child);
    rs->meta_order = tg_malloc((rs->nrules + 1) * sizeof *rs->meta_order);
    int rc = 0;
    for (size_t root = 0; root < rs->nrules && rc == 0; root++) {
        rule_t *r = &rs->rules[root];
        if (r->type != CF_META || !r->enabled || state[root])
            continue;
        size_t sp = 0;
        stack[sp] = root;
        child[sp++] = 0;
        state[root] = 1;
        while (sp && rc == 0) {
            size_t cur = stack[sp - 1];
            meta_expr_t *e = rs->rules[cur].meta;
            if (child[sp - 1] < meta_nnames(e)) {
                long dep = meta_slot(e, child[sp - 1]++);
                if (dep < 0 || rs->rules[dep].type != CF_META || !rs->rules[dep].enabled)
                    continue;
                if (state[dep] == 1) {
                    const cf_rule_t *c = cf_rule_at(set, rs->rules[cur].cf_index);
                    rc = tg_err(err, errlen, "%s:%d:%d: meta rule %s depends on itself "
                                "(through %s)", c->file, c->line, cf_rule_col(c, c->col),
                                rs->rules[dep].name, rs->rules[cur].name);
                    break;
                }
                if (state[dep] == 0) {
                    state[dep] = 1;
                    stack[sp] = (size_t)dep;
                    child[sp++] = 0;
                }
            } else {
                state[cur] = 2;
                rs->meta_order[rs->nmeta_order++] = cur;
                sp--;
            }
        }
    }
    free(state);
    free(stack);
    free(child);
    return rc;
}

static void rule_free(rule_t *r)
{
    free(r->name);
    free(r->header);
    free(r->unset);
    free(r->describe);
    free(r->action_text);
    free(r->cidrs);
    rx_free(r->re);
    rx_free(r->skel);
    meta_free(r->meta);
    tmpl_free(r->tmpl);
}

static void rules_destroy(rules_t *rs)
{
    for (int k = 0; k < 3; k++)
        rcvd_nets_free(rs->nets[k]);
    for (size_t i = 0; i < rs->norig; i++)
        free(rs->orig[i]);
    free(rs->orig);
    for (size_t i = 0; i < rs->nrules; i++)
        rule_free(&rs->rules[i]);
    free(rs->rules);
    free(rs->meta_order);
    free(rs->run);
    free(rs->runx);
    free(rs->xsteps);
    free(rs->caprun);
    free(rs->tmplrun);
    free(rs->msteps);
    free(rs->mset_init);
    free(rs->dep_first);
    free(rs->dep);
    free(rs->meta_code);
    fast_free(rs->fast);
    for (int k = 0; k < RULES_NOTE_KINDS; k++) {
        for (size_t i = 0; i < rs->nnotes[k]; i++) {
            free(rs->notes[k][i].where);
            free(rs->notes[k][i].what);
        }
        free(rs->notes[k]);
    }
    tg_map_free(rs->byname);
    free(rs);
}

static int is_regex_type(cf_type_t t)
{
    switch (t) {
    case CF_HEADER: case CF_MIMEHEADER: case CF_BODY: case CF_RAWBODY:
    case CF_FULL: case CF_URI: case CF_CONNECT_HOST: case CF_HELO:
    case CF_ENVFROM: case CF_ENVRCPT: case CF_AUTH: case CF_ATTACH_NAME:
    case CF_ATTACH_TYPE:
        return 1;
    default:
        return 0;
    }
}

/* Compiles a parsed set. Takes the strings it needs out of `set`. */
static int rules_build(cf_set_t *set, const rules_options_t *opts, rules_t **out,
                       char *err, size_t errlen)
{
    rules_t *rs = tg_calloc(1, sizeof *rs);
    atomic_init(&rs->refs, 1);
    rs->gen = atomic_fetch_add(&rules_gen, 1);
    if (opts)
        rs->opts = *opts;
    rs->thr = cf_get_thresholds(set);
    cf_take_relays(set, rs->nets, &rs->orig, &rs->norig);
    rs->trust.trusted = rs->nets[0];
    rs->trust.internal = rs->nets[1];
    rs->trust.msa = rs->nets[2];
    rs->trust.originating = (const char *const *)rs->orig;
    rs->trust.noriginating = rs->norig;
    rs->byname = tg_map_new();
    size_t n = cf_nrules(set);
    rs->rules = tg_calloc(n ? n : 1, sizeof *rs->rules);
    const cf_stats_t *st = cf_get_stats(set);
    rs->info.files = st->files;
    rs->info.skipped_eval = st->skipped_eval;
    rs->info.skipped_unsupported = st->skipped_unsupported;
    rs->info.lang_lines = st->lang_lines;
    rs->info.ignored = st->ignored;
    for (int k = 0; k < 2; k++) {
        const cf_note_t *notes;
        size_t nn = cf_notes(set, k, &notes);
        for (size_t i = 0; i < nn; i++)
            add_note(rs, k, notes[i].where, notes[i].what, cf_note_count(set, k, i));
    }
    fast_rule_t *fr = NULL;    /* regex rules for the fast matcher */
    size_t nfr = 0, frcap = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        cf_rule_t *c = cf_rule_at(set, i);
        if (!c->defined)
            continue; /* only score/describe lines: nothing to run */
        rule_t *r = &rs->rules[rs->nrules];
        r->cf_index = i;
        r->name = c->name;
        c->name = NULL;
        tg_map_put(rs->byname, r->name, rs->nrules++);
        r->type = c->type;
        r->scored = strncmp(r->name, "__", 2) != 0;
        r->header = c->header, c->header = NULL;
        if (r->header)
            msg_hkey_init(&r->hkey, r->header);
        r->unset = c->unset, c->unset = NULL;
        r->describe = c->describe, c->describe = NULL;
        r->action_text = c->action_text, c->action_text = NULL;
        r->cidrs = c->cidrs, c->cidrs = NULL;
        r->ncidrs = c->ncidrs;
        r->hmode = c->hmode;
        r->negate = c->negate;
        r->score = c->score;
        r->tflags = c->tflags;
        r->maxhits = c->maxhits;
        r->category = parse_category(c->category);
        r->action = c->action;
        r->spf_mask = c->spf_mask;
        r->size_op = c->size_op;
        r->size_val = c->size_val;
        r->limit_mask = c->limit_mask;
        r->dir_mask = c->dir_mask;
        r->local_mask = c->local_mask;
        if (c->type == CF_EVAL)
            continue;
        /* SpamAssassin: "Setting a rule's score to 0 will disable that
         * rule from running" — metas then see it as not hit. */
        r->enabled = r->score != 0;
        if (!r->enabled)
            rs->info.disabled++;
        if (c->type == CF_META) {
            size_t pos;
            char merr[200];
            if (meta_parse(c->expr, &r->meta, &pos, merr, sizeof merr) < 0) {
                rc = tg_err(err, errlen, "%s:%d:%d: %s", c->file, c->line,
                            cf_rule_col(c, c->col + (int)pos), merr);
                break;
            }
            if (r->enabled)
                rs->info.loaded_meta++;
        } else if (is_regex_type(c->type)) {
            /* a disabled rule (score 0) is checked too, as SpamAssassin
             * compiles every rule: else its mistake would surface only when
             * someone gives it a score */
            size_t eo = 0;
            int toolarge;
            char rerr[256];
            r->capture = tmpl_is_capture(c->pattern);
            if (c->type == CF_BODY || c->type == CF_RAWBODY || c->type == CF_HEADER ||
                c->type == CF_URI || c->type == CF_FULL)
                r->tmpl = tmpl_parse(c->pattern, c->reflags);
            if (r->tmpl) {
                /* checked as SpamAssassin does, each %{NAME} as %\{NAME\};
                 * built and compiled per message (run_template) */
                char *chk = tmpl_escaped(r->tmpl);
                int crc = rx_compile(chk, c->reflags | RX_CHECK_ONLY, &r->re, &eo, &toolarge,
                                     rerr, sizeof rerr);
                free(chk);
                if (crc < 0) {
                    rc = tg_err(err, errlen, "%s:%d:%d: invalid regular expression in %s: %s "
                                "(at offset %zu of the pattern with its %%{...} templates "
                                "escaped)", c->file, c->line, cf_rule_col(c, c->pcol), r->name,
                                rerr, eo);
                    break;
                }
                r->reflags = c->reflags;
                char *sk = tmpl_skeleton(r->tmpl);
                if (sk && rx_compile(sk, c->reflags, &r->skel, &eo, &toolarge, rerr,
                                     sizeof rerr) < 0)
                    r->skel = NULL; /* run_template builds the pattern each time */
                free(sk);
                if (r->enabled) {
                    rs->info.loaded_regex++;
                    rs->info.loaded++;
                }
                continue;
            }
            if (rx_compile(c->pattern, c->reflags | (r->enabled ? 0 : RX_CHECK_ONLY), &r->re,
                           &eo, &toolarge, rerr, sizeof rerr) < 0) {
                if (!toolarge && c->rt_applied) {
                    /* the offset is into the pattern ReplaceTags wrote */
                    rc = tg_err(err, errlen, "%s:%d:%d: invalid regular expression in %s: %s "
                                "(at offset %zu of the pattern after ReplaceTags)",
                                c->file, c->line, cf_rule_col(c, c->pcol), r->name, rerr, eo);
                    break;
                }
                if (!toolarge) {
                    rc = tg_err(err, errlen, "%s:%d:%d: invalid regular expression in %s: %s",
                                c->file, c->line, cf_rule_col(c, c->pcol + (int)eo), r->name,
                                rerr);
                    break;
                }
                /* A resource limit of PCRE2 (link size), not a mistake in
                 * the rule: report it, keep loading, never run the rule. */
                char where[512], what[512];
                snprintf(where, sizeof where, "%s:%d", c->file, c->line);
                snprintf(what, sizeof what, "%s: %s (%zu bytes after ReplaceTags)",
                         r->name, rerr, strlen(c->pattern));
                add_note(rs, 2, where, what, 1);
                rs->info.rejected += r->enabled;
                r->enabled = 0;
                continue;
            }
            if (!r->enabled)
                continue;
            rs->info.loaded_regex++;
            rs->info.jit += rx_is_jit(r->re);
            rs->info.wide += rx_is_wide(r->re);
            if (r->type == CF_BODY && (r->tflags & CF_TF_NOSUBJECT)) {
                /* the fast matcher scans every line alike: run_rule's */
                rs->info.loaded++;
                continue;
            }
            tg_grow(&fr, &frcap, nfr + 1, sizeof *fr);
            fr[nfr++] = (fast_rule_t){
                .slot = rs->nrules - 1, .type = r->type, .header = r->header,
                .hmode = r->hmode, .unset = r->unset, .negate = r->negate,
                .pattern = c->pattern, .reflags = c->reflags,
                .multiple = (r->tflags & CF_TF_MULTIPLE) != 0,
                .maxhits = r->maxhits, .re = r->re, .name = r->name};
        }
        if (r->enabled)
            rs->info.loaded++;
    }
    for (size_t i = 0; i < rs->nrules; i++) {
        const rule_t *r = &rs->rules[i];
        if (!r->enabled)
            continue;
        if (r->type == CF_BODY)
            rs->views |= MSG_VIEW_BODY;
        else if (r->type == CF_RAWBODY)
            rs->views |= MSG_VIEW_RAWBODY;
        else if (r->type == CF_URI)
            rs->views |= MSG_VIEW_URIS;
        if ((r->type == CF_HEADER || r->type == CF_EXISTS) && r->header &&
            rcvd_pseudo(r->header) >= 0)
            rs->reads_relays = 1;
    }
    if (rs->reads_relays)
        rs->views |= MSG_VIEW_RELAYS;
    /* Bind meta names to rule slots; names of undefined rules stay -1 and
     * read as 0, as in SpamAssassin. */
    for (size_t i = 0; i < rs->nrules && rc == 0; i++) {
        rule_t *r = &rs->rules[i];
        if (r->type != CF_META || !r->meta)
            continue;
        for (size_t k = 0; k < meta_nnames(r->meta); k++) {
            size_t idx;
            if (tg_map_get(rs->byname, meta_name(r->meta, k), &idx))
                meta_bind(r->meta, k, (long)idx);
        }
    }
    if (rc == 0)
        rc = order_metas(rs, set, err, errlen);
    if (rc == 0 && rs->opts.matcher == RULES_MATCHER_FAST) {
        fast_options_t fo = {.cache_dir = rs->opts.cache_dir,
                             .match_limit = rs->opts.match_limit,
                             .depth_limit = rs->opts.depth_limit,
                             .memo_slots = rs->opts.scan_memo};
        rs->fast = fast_build(fr, nfr, &fo);
        for (size_t k = 0; k < nfr; k++)
            rs->rules[fr[k].slot].in_fast = 1;
    }
    if (rc == 0)
        flatten(rs);
    rs->opts.cache_dir = NULL; /* borrowed for the build only */
    free(fr);
    if (rc < 0) {
        rules_destroy(rs);
        return -1;
    }
    *out = rs;
    return 0;
}

int rules_load(const char *const *paths, size_t npaths,
               const rules_options_t *opts, rules_t **out,
               char *err, size_t errlen)
{
    cf_set_t *set;
    if (cf_load(paths, npaths, &set, err, errlen) < 0)
        return -1;
    int rc = rules_build(set, opts, out, err, errlen);
    cf_free(set);
    return rc;
}

int rules_load_string(const char *name, const char *text,
                      const rules_options_t *opts, rules_t **out,
                      char *err, size_t errlen)
{
    cf_set_t *set;
    if (cf_load_string(name, text, &set, err, errlen) < 0)
        return -1;
    int rc = rules_build(set, opts, out, err, errlen);
    cf_free(set);
    return rc;
}

rules_t *rules_ref(rules_t *rs)
{
    atomic_fetch_add(&rs->refs, 1);
    return rs;
}

void rules_unref(rules_t *rs)
{
    if (rs && atomic_fetch_sub(&rs->refs, 1) == 1)
        rules_destroy(rs);
}

const rules_info_t *rules_get_info(const rules_t *rs) { return &rs->info; }
const struct fast *rules_get_fast(const rules_t *rs) { return rs->fast; }
struct fast_scratch *rules_scratch_get_fast(rules_scratch_t *sc) { return sc->fast; }
size_t rules_count(const rules_t *rs) { return rs->nrules; }
const char *rules_name(const rules_t *rs, size_t i) { return rs->rules[i].name; }

long rules_find(const rules_t *rs, const char *name)
{
    size_t idx;
    return tg_map_get(rs->byname, name, &idx) ? (long)idx : -1;
}

unsigned rules_views(const rules_t *rs)
{
    return rs->views;
}

void rules_use_relays(const rules_t *rs, const msg_t *m, const rules_env_t *env)
{
    static const rules_env_t noenv;
    if (!env)
        env = &noenv;
    rcvd_client_t cl = { env->client_ip, env->client_name, env->helo, env->mta_host,
                         env->auth };
    msg_use_relays(m, &rs->trust, &cl);
}

size_t rules_nnotes(const rules_t *rs, int kind)
{
    return kind >= 0 && kind < RULES_NOTE_KINDS ? rs->nnotes[kind] : 0;
}

void rules_note(const rules_t *rs, int kind, size_t i, const char **where,
                const char **what, size_t *count)
{
    const note_t *n = &rs->notes[kind][i];
    *where = n->where;
    *what = n->what;
    *count = n->count;
}

/* ---- matching (the reference matcher: PCRE2 per rule) ------------------ */

rules_scratch_t *rules_scratch_new(const rules_t *rs)
{
    rules_scratch_t *sc = tg_calloc(1, sizeof *sc);
    sc->gen = rs->gen;
    sc->rx = rx_scratch_new(rs->opts.match_limit, rs->opts.depth_limit);
    tg_buf_init(&sc->tmp);
    tg_buf_init(&sc->tpat);
    sc->tags = tmpl_tags_new();
    sc->nvalues = rs->nrules;
    sc->values = tg_calloc(sc->nvalues ? sc->nvalues : 1, sizeof *sc->values);
    if (rs->fast) /* now, so that profiling can be switched on before a match */
        sc->fast = fast_scratch_new(rs->fast);
    return sc;
}

int rules_scratch_fits(const rules_scratch_t *sc, const rules_t *rs)
{
    return sc && sc->gen == rs->gen;
}

void rules_scratch_free(rules_scratch_t *sc)
{
    if (!sc)
        return;
    rx_scratch_free(sc->rx);
    fast_scratch_free(sc->fast);
    tg_buf_free(&sc->tmp);
    tg_buf_free(&sc->tpat);
    tmpl_tags_free(sc->tags);
    for (size_t i = 0; i < RULES_TCACHE; i++) {
        free(sc->tcache[i].pat);
        rx_free(sc->tcache[i].re);
    }
    free(sc->values);
    free(sc->rule_ns);
    free(sc->mset);
    free(sc);
}

/* Matches to look for: 1, or up to maxhits (0 = all) for tflags multiple. */
static unsigned want(const rule_t *r)
{
    return (r->tflags & CF_TF_MULTIPLE) ? r->maxhits : 1;
}

/* The header value a header/mimeheader rule reads, into sc->tmp: the
 * field, else its [if-unset:] value, else "". node < 0: the message's. */
static void rule_header(const rule_t *r, rules_scratch_t *sc, const msg_t *m, long node)
{
    tg_buf_reset(&sc->tmp);
    int got = node < 0 ? msg_get_header(m, r->header, (msg_hmode_t)r->hmode, &sc->tmp)
                       : msg_node_header(m, (size_t)node, r->header, (msg_hmode_t)r->hmode,
                                         &sc->tmp);
    if (!got) {
        tg_buf_reset(&sc->tmp);
        if (r->unset)
            tg_buf_adds(&sc->tmp, r->unset);
    }
}

/* The strings a body, rawbody, uri or full rule reads (nosubject applied). */
static const msg_str_t *rule_strings(const rule_t *r, const msg_t *m, size_t *n,
                                     msg_str_t *full)
{
    const msg_str_t *a;
    switch (r->type) {
    case CF_BODY:
        a = msg_body_lines(m, n);
        if ((r->tflags & CF_TF_NOSUBJECT) && *n) {
            a++;
            (*n)--;
        }
        return a;
    case CF_RAWBODY: return msg_rawbody_chunks(m, n);
    case CF_URI:     return msg_uris(m, n);
    default:
        *full = msg_full(m);
        *n = 1;
        return full;
    }
}

/* 1 if s holds a value of each tag template rule r needs in every match
 * (tmpl_required): else re cannot match there. */
static int holds_required(const rule_t *r, const tmpl_tags_t *tags, const char *s, size_t len)
{
    for (size_t k = 0; k < tmpl_nnames(r->tmpl); k++)
        if (tmpl_required(r->tmpl, k) && !tmpl_tags_maybe_in(tags, tmpl_name(r->tmpl, k), s, len))
            return 0;
    return 1;
}

/* Counts matches of re over the strings of a body, rawbody, uri or full
 * rule (rule_strings), stopping at `max` in total. With tags (a template
 * rule), only the strings holds_required keeps are matched. */
static unsigned count_array(const rule_t *r, const rx_t *re, rules_scratch_t *sc,
                            const msg_t *m, const tmpl_tags_t *tags)
{
    size_t n;
    msg_str_t full;
    const msg_str_t *a = rule_strings(r, m, &n, &full);
    unsigned max = want(r), total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = a[i].ptr ? a[i].ptr : "";
        if (tags && !holds_required(r, tags, s, a[i].len))
            continue;
        total += rx_count(re, sc->rx, s, a[i].len, max ? max - total : 0);
        if (max && total >= max)
            break;
    }
    return total;
}

/* A match test on one string, with !~ negation. */
static unsigned count_one(const rule_t *r, const rx_t *re, rx_scratch_t *sc, const char *s,
                          size_t len)
{
    unsigned c = rx_count(re, sc, s ? s : "", s ? len : 0, want(r));
    if (r->negate)
        return c ? 0 : 1;
    return c;
}

static unsigned count_str(const rule_t *r, rx_scratch_t *sc, const char *s)
{
    return count_one(r, r->re, sc, s, s ? strlen(s) : 0);
}

/* 1 if addr is in one of the local domains (or a subdomain). */
static int addr_is_local(const rules_env_t *env, const char *addr, size_t len)
{
    for (size_t i = 0; i < env->nlocal_domains; i++)
        if (tg_addr_in_domain(addr, len, env->local_domains[i]))
            return 1;
    return 0;
}

/* Any address of header `h` (:addr, one per line) in a local domain. */
static int header_is_local(const rules_env_t *env, const msg_t *m, const char *h,
                           tg_buf *tmp)
{
    if (!env->nlocal_domains)
        return 0; /* no domain is local: the addresses need no parsing */
    tg_buf_reset(tmp);
    if (!msg_get_header(m, h, MSG_H_ADDR, tmp) || !tmp->s)
        return 0;
    const char *p = tmp->s, *end = tmp->s + tmp->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (addr_is_local(env, p, n))
            return 1;
        p += n + 1;
    }
    return 0;
}

/* An exists: rule's value (run_rule_re and rules_t.xsteps). */
static unsigned exists_value(const msg_t *m, const msg_hkey_t *k, int negate)
{
    return (unsigned)(msg_has_hkey(m, k) != negate);
}

/* Rule r's value on message m, its pattern (if any) being re: r->re, or
 * for a template rule the pattern built for this message. */
static unsigned run_rule_re(const rule_t *r, const rx_t *re, rules_scratch_t *sc,
                            const msg_t *m, const rules_env_t *env)
{
    switch (r->type) {
    case CF_HEADER:
        rule_header(r, sc, m, -1);
        return count_one(r, re, sc->rx, sc->tmp.s ? sc->tmp.s : "", sc->tmp.len);
    case CF_EXISTS:
        return exists_value(m, &r->hkey, r->negate);
    case CF_MIMEHEADER: {
        size_t np = msg_nnodes(m);
        for (size_t i = 0; i < np; i++) {
            rule_header(r, sc, m, (long)i);
            if (rx_count(re, sc->rx, sc->tmp.s ? sc->tmp.s : "", sc->tmp.len, 1))
                return r->negate ? 0 : 1;
        }
        return r->negate ? 1 : 0;
    }
    case CF_BODY: case CF_RAWBODY: case CF_URI: case CF_FULL:
        return count_array(r, re, sc, m, NULL);
    case CF_CONNECT_IP:
        for (size_t i = 0; i < r->ncidrs; i++)
            if (cf_cidr_match(&r->cidrs[i], env->client_ip))
                return 1;
        return 0;
    case CF_CONNECT_HOST: return count_str(r, sc->rx, env->client_name);
    case CF_HELO:         return count_str(r, sc->rx, env->helo);
    case CF_ENVFROM:      return count_str(r, sc->rx, env->mail_from);
    case CF_AUTH:         return count_str(r, sc->rx, env->auth);
    case CF_ENVRCPT:
        /* hits if any recipient matches (!~: if none matches) */
        for (size_t i = 0; i < env->nrcpts; i++)
            if (rx_count(re, sc->rx, env->rcpts[i], strlen(env->rcpts[i]), 1))
                return r->negate ? 0 : 1;
        return r->negate ? 1 : 0;
    case CF_SPF:
        return env->spf != RULES_SPF_UNKNOWN &&
               (r->spf_mask & (1u << (env->spf - 1))) != 0;
    case CF_ATTACH_NAME:
    case CF_ATTACH_TYPE: {
        size_t np = msg_nparts(m);
        for (size_t i = 0; i < np; i++) {
            const msg_part_t *p = msg_part_at(m, i);
            msg_str_t s = r->type == CF_ATTACH_NAME ? p->filename : p->type;
            if (r->type == CF_ATTACH_NAME && s.len == 0)
                continue;
            if (rx_count(re, sc->rx, s.ptr ? s.ptr : "", s.len, 1))
                return r->negate ? 0 : 1;
        }
        return r->negate ? 1 : 0;
    }
    case CF_SIZE: {
        double sz = (double)msg_size(m);
        switch (r->size_op) {
        case '>': return sz > r->size_val;
        case 'g': return sz >= r->size_val;
        case '<': return sz < r->size_val;
        default:  return sz <= r->size_val;
        }
    }
    case CF_LIMIT:
        return (msg_limits_hit(m) & r->limit_mask) != 0;
    case CF_DIRECTION:
        return env->direction != RULES_DIR_UNKNOWN &&
               (r->dir_mask & (1u << (env->direction - 1))) != 0;
    case CF_LOCAL:
        if ((r->local_mask & CF_LOCAL_ENVFROM) && env->mail_from &&
            addr_is_local(env, env->mail_from, strlen(env->mail_from)))
            return 1;
        if ((r->local_mask & CF_LOCAL_FROM) && header_is_local(env, m, "From", &sc->tmp))
            return 1;
        return (r->local_mask & CF_LOCAL_REPLYTO) &&
               header_is_local(env, m, "Reply-To", &sc->tmp);
    default:
        return 0;
    }
}

static unsigned run_rule(const rule_t *r, rules_scratch_t *sc, const msg_t *m,
                         const rules_env_t *env)
{
    return run_rule_re(r, r->re, sc, m, env);
}

/* ---- captured tags (tmpl.h) ------------------------------------------- */

/* Sets the tags rule r (a hit, not negated) captures, matching re over
 * its strings as it did to hit: the first hit only, or for tflags
 * multiple every hit up to maxhits (Check.pm's loops; MIMEHeader.pm's:
 * the first part that hits). */
static void take_captures(const rule_t *r, const rx_t *re, rules_scratch_t *sc,
                          const msg_t *m)
{
    unsigned max = want(r), total = 0;
    sc->ntmemo = 0; /* the tags change */
    tmpl_tags_begin(sc->tags);
    if (r->type == CF_HEADER) {
        rule_header(r, sc, m, -1);
        rx_captures(re, sc->rx, sc->tmp.s ? sc->tmp.s : "", sc->tmp.len, max,
                    tmpl_tags_add, sc->tags);
    } else if (r->type == CF_MIMEHEADER) {
        size_t np = msg_nnodes(m);
        for (size_t i = 0; i < np; i++) {
            rule_header(r, sc, m, (long)i);
            if (rx_captures(re, sc->rx, sc->tmp.s ? sc->tmp.s : "", sc->tmp.len, max,
                            tmpl_tags_add, sc->tags))
                break;
        }
    } else if (r->type == CF_BODY || r->type == CF_RAWBODY || r->type == CF_URI ||
               r->type == CF_FULL) {
        size_t n;
        msg_str_t full;
        const msg_str_t *a = rule_strings(r, m, &n, &full);
        for (size_t i = 0; i < n; i++) {
            total += rx_captures(re, sc->rx, a[i].ptr ? a[i].ptr : "", a[i].len,
                                 max ? max - total : 0, tmpl_tags_add, sc->tags);
            if (max && total >= max)
                break;
        }
    }
    tmpl_tags_commit(sc->tags);
}

/* 0 if no string rule r reads can hold a value of tag `name`. */
static int tag_may_occur(const rule_t *r, rules_scratch_t *sc, const msg_t *m,
                         const char *name)
{
    if (r->type == CF_HEADER) {
        rule_header(r, sc, m, -1);
        return tmpl_tags_maybe_in(sc->tags, name, sc->tmp.s ? sc->tmp.s : "", sc->tmp.len);
    }
    int nosubj = r->type == CF_BODY && (r->tflags & CF_TF_NOSUBJECT);
    for (size_t k = 0; k < sc->ntmemo; k++) {
        const struct tmemo *e = &sc->tmemo[k];
        if (e->type == (int)r->type && e->nosubj == nosubj && !strcmp(e->name, name))
            return e->result;
    }
    size_t n;
    msg_str_t full;
    const msg_str_t *a = rule_strings(r, m, &n, &full);
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        found = tmpl_tags_maybe_in(sc->tags, name, a[i].ptr ? a[i].ptr : "", a[i].len);
    if (sc->ntmemo < RULES_TMEMO)
        sc->tmemo[sc->ntmemo++] = (struct tmemo){(int)r->type, nosubj, found, name};
    return found;
}

/* 0 if the strings rule r reads cannot match its skeleton (so neither
 * its pattern, whatever the tags' values), 1 if they may: one does, the
 * match limit stopped a run, or r reads strings this does not fetch.
 * nreq: r has required tags, so only the strings that hold their values
 * count (holds_required), as in run_template. */
static int skeleton_may_match(const rule_t *r, rules_scratch_t *sc, const msg_t *m,
                              size_t nreq)
{
    unsigned long hits = rx_scratch_limit_hits(sc->rx);
    int found = 0;
    if (r->type == CF_HEADER) {
        rule_header(r, sc, m, -1);
        found = rx_count(r->skel, sc->rx, sc->tmp.s ? sc->tmp.s : "", sc->tmp.len, 1) > 0;
    } else if (r->type == CF_BODY || r->type == CF_RAWBODY || r->type == CF_URI ||
               r->type == CF_FULL) {
        found = count_array(r, r->skel, sc, m, nreq ? sc->tags : NULL) > 0;
    } else {
        return 1;
    }
    return found || rx_scratch_limit_hits(sc->rx) != hits;
}

/* The compiled pattern for a template rule's built pattern pat: from the
 * scratch's cache, else compiled (no JIT) into it. NULL if PCRE2 refuses
 * it: a size limit, or a lookbehind the values make of varying length,
 * (?<=%{T}) with values "ab" and "c", which Perl takes and PCRE2 does not.
 * Owned by the cache. */
static const rx_t *template_rx(rules_scratch_t *sc, const char *pat, unsigned flags)
{
    for (size_t i = 0; i < RULES_TCACHE; i++)
        if (sc->tcache[i].pat && sc->tcache[i].flags == flags && !strcmp(sc->tcache[i].pat, pat))
            return sc->tcache[i].re;
    rx_t *re = NULL;
    size_t eo;
    int toolarge;
    char rerr[256];
    if (rx_compile(pat, flags | RX_NO_JIT, &re, &eo, &toolarge, rerr, sizeof rerr) < 0)
        re = NULL; /* kept too: not compiled again for the next message */
    struct tcache *e = &sc->tcache[sc->tcache_next];
    sc->tcache_next = (sc->tcache_next + 1) % RULES_TCACHE;
    free(e->pat);
    rx_free(e->re);
    e->pat = tg_strdup(pat);
    e->flags = flags;
    e->re = re;
    return re;
}

/* A template rule: does not run (0) while one of its tags is unset;
 * else its pattern is built with the tags' values and matched as any
 * rule's. A required tag none of whose values occurs in the strings
 * cannot match: answered without building the pattern. */
static unsigned run_template(const rule_t *r, rules_scratch_t *sc, const msg_t *m,
                             const rules_env_t *env)
{
    const tmpl_t *t = r->tmpl;
    size_t nn = tmpl_nnames(t);
    for (size_t i = 0; i < nn; i++)
        if (!tmpl_tags_count(sc->tags, tmpl_name(t, i)))
            return 0;
    size_t nreq = 0;
    for (size_t i = 0; i < nn; i++) {
        if (!tmpl_required(t, i))
            continue;
        nreq++;
        if (!tag_may_occur(r, sc, m, tmpl_name(t, i)))
            return r->negate ? 1 : 0;
    }
    /* the pattern with wildcards for its templates misses where the
     * built one would run: so would that (it spares a compile per message
     * whose To address is in a link, for each of the six __GB_* URI rules
     * whose skeleton is mostly an anchored prefix) */
    if (r->skel && !skeleton_may_match(r, sc, m, nreq))
        return r->negate ? 1 : 0;
    if (tmpl_build(t, sc->tags, &sc->tpat) < 0)
        return 0;
    const rx_t *re = template_rx(sc, sc->tpat.s, r->reflags);
    if (!re)
        return 0; /* see template_rx */
    /* with a required tag, only the strings that hold its values are
     * matched (no other can match): a list's address is in one link of
     * seventy, and these patterns run without JIT */
    unsigned v = nreq && r->type != CF_HEADER ? count_array(r, re, sc, m, sc->tags)
                                              : run_rule_re(r, re, sc, m, env);
    if (v && r->capture && !r->negate)
        take_captures(r, re, sc, m);
    return v;
}

/* values[i] = template rule i's value, timed when profiling. */
static void template_value(const rules_t *rs, rules_scratch_t *sc, size_t i, const msg_t *m,
                           const rules_env_t *env, double *values)
{
    double t0 = sc->prof ? tg_now_ns() : 0;
    values[i] = (double)run_template(&rs->rules[i], sc, m, env);
    if (sc->prof && sc->nrule_ns >= rs->nrules)
        sc->rule_ns[i] += tg_now_ns() - t0;
}

void rules_scratch_profile(rules_scratch_t *sc, int on)
{
    if (on && !sc->rule_ns) {
        sc->nrule_ns = sc->nvalues;
        sc->rule_ns = tg_calloc(sc->nrule_ns ? sc->nrule_ns : 1, sizeof *sc->rule_ns);
    }
    sc->prof = on;
}

const double *rules_scratch_rule_ns(const rules_scratch_t *sc) { return sc->rule_ns; }

void rules_match_all(const rules_t *rs, rules_scratch_t *sc, const msg_t *m,
                     const rules_env_t *env, double *values)
{
    static const rules_env_t noenv;
    if (!env)
        env = &noenv;
    if (rs->fast && !fast_scratch_fits(sc->fast, rs->fast)) {
        fast_scratch_free(sc->fast);
        sc->fast = fast_scratch_new(rs->fast);
    }
    memset(values, 0, rs->nrules * sizeof *values);
    if (rs->reads_relays)
        rules_use_relays(rs, m, env);
    if (sc->prof && sc->nrule_ns >= rs->nrules) {
        for (size_t k = 0; k < rs->nrun; k++) {
            double t0 = tg_now_ns();
            values[rs->run[k]] = (double)run_rule(&rs->rules[rs->run[k]], sc, m, env);
            sc->rule_ns[rs->run[k]] += tg_now_ns() - t0;
        }
    } else {
        for (size_t k = 0; k < rs->nxsteps; k++)
            values[rs->xsteps[k].slot] =
                (double)exists_value(m, &rs->xsteps[k].hkey, rs->xsteps[k].negate);
        for (size_t k = 0; k < rs->nrunx; k++)
            values[rs->runx[k]] = (double)run_rule(&rs->rules[rs->runx[k]], sc, m, env);
    }
    if (rs->fast)
        fast_match(rs->fast, sc->fast, sc->rx, m, env, values);
    if (rs->ncaprun || rs->ntmplrun) {
        tmpl_tags_reset(sc->tags);
        sc->ntmemo = 0;
        for (size_t k = 0; k < rs->ncaprun; k++) {
            size_t i = rs->caprun[k];
            const rule_t *r = &rs->rules[i];
            if (r->tmpl)
                template_value(rs, sc, i, m, env, values);
            else if (values[i] != 0 && !r->negate)
                take_captures(r, r->re, sc, m);
        }
        for (size_t k = 0; k < rs->ntmplrun; k++)
            template_value(rs, sc, rs->tmplrun[k], m, env, values);
    }
    /* metas, in order: evaluated where some input is set or the value with
     * none (meta_zero) is not 0, else left 0; a meta's set value reaches
     * the metas after it */
    tg_grow(&sc->mset, &sc->mset_cap, rs->nmeta_order + 1, 1);
    memcpy(sc->mset, rs->mset_init, rs->nmeta_order);
    for (size_t v = 0; v < rs->nrules; v++) {
        /* most values are 0: four at a time by their bits (-0 would set
         * inputs for nothing, which only evaluates a meta to what it is) */
        if (v + 4 <= rs->nrules && !(v & 3)) {
            uint64_t w[4];
            memcpy(w, values + v, sizeof w);
            if (!(w[0] | w[1] | w[2] | w[3])) {
                v += 3;
                continue;
            }
        }
        if (values[v] != 0)
            for (unsigned d = rs->dep_first[v]; d < rs->dep_first[v + 1]; d++)
                sc->mset[rs->dep[d]] = 1;
    }
    for (size_t k = 0; k < rs->nmeta_order; k++) {
        if (!sc->mset[k])
            continue; /* no input set, value 0: values[] holds it */
        const struct mstep *st = &rs->msteps[k];
        double v = st->code ? meta_run(st->code, st->ncells, values)
                            : meta_eval(rs->rules[st->slot].meta, values);
        values[st->slot] = v;
        if (v != 0)
            for (unsigned d = rs->dep_first[st->slot]; d < rs->dep_first[st->slot + 1]; d++)
                sc->mset[rs->dep[d]] = 1;
    }
}

/* ---- verdict ----------------------------------------------------------- */

static const char *const act_names[] = {"accept", "tag", "quarantine",
                                        "tempfail", "discard", "reject"};
static const char *const cat_names[] = {"clean", "tagged", "spam",
                                        "security", "policy", "tempfail"};

const char *rules_action_name(rules_action_t a) { return act_names[a]; }

static const char *const spf_names[] = {"none", "pass", "fail", "softfail", "neutral",
                                        "none", "temperror", "permerror"};

const char *rules_spf_name(rules_spf_t r) { return spf_names[r]; }

rules_spf_t rules_spf_parse(const char *name)
{
    for (int i = RULES_SPF_PASS; i <= RULES_SPF_PERMERROR; i++)
        if (!tg_strcasecmp(name, spf_names[i]))
            return (rules_spf_t)i;
    return RULES_SPF_UNKNOWN;
}
const char *rules_category_name(rules_category_t c) { return cat_names[c]; }

static rules_action_t map_action(cf_action_t a)
{
    switch (a) {
    case CF_ACT_TAG: return RULES_TAG;
    case CF_ACT_QUARANTINE: return RULES_QUARANTINE;
    case CF_ACT_TEMPFAIL: return RULES_TEMPFAIL;
    case CF_ACT_DISCARD: return RULES_DISCARD;
    case CF_ACT_REJECT: return RULES_REJECT;
    default: return RULES_ACCEPT;
    }
}

/* "550 5.7.1 text" from an admin's text and the defaults for the action. */
static char *make_reply(rules_action_t a, const char *text, const char *dflt)
{
    const char *code = a == RULES_REJECT ? "550" : "451";
    const char *ext = a == RULES_REJECT ? "5.7.1" : "4.7.1";
    tg_buf b;
    tg_buf_init(&b);
    if (!text || !*text)
        text = dflt;
    /* the same recognisers the parser validated the text with */
    int has_code = cf_reply_code_len(text) != 0;
    const char *rest = has_code ? text + (text[3] ? 4 : 3) : text;
    if (!*rest)
        rest = dflt; /* a code alone: the default text after it */
    tg_buf_printf(&b, "%.3s ", has_code ? text : code);
    if (!cf_reply_has_ext(rest))
        tg_buf_printf(&b, "%s ", ext);
    tg_buf_adds(&b, rest);
    return tg_buf_steal(&b);
}

void rules_classify(rules_t *rs, rules_scratch_t *sc, const msg_t *m,
                    const rules_env_t *env, rules_verdict_t *v)
{
    memset(v, 0, sizeof *v);
    v->ruleset = rules_ref(rs);
    v->required = rs->thr.tag;
    v->limits = msg_limits_hit(m);
    unsigned long lim0 = rx_scratch_limit_hits(sc->rx);
    if (sc->nvalues < rs->nrules) {
        sc->values = tg_realloc(sc->values, rs->nrules * sizeof *sc->values);
        sc->nvalues = rs->nrules;
    }
    double *val = sc->values;
    rules_match_all(rs, sc, m, env, val);
    v->regex_limit_hits = rx_scratch_limit_hits(sc->rx) - lim0;

    size_t cap = 0;
    const rule_t *decider = NULL;
    int explicit_accept = 0;
    rules_category_t worst = RULES_CAT_SPAM;
    int have_cat = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        const rule_t *r = &rs->rules[i];
        if (val[i] == 0 || !r->enabled)
            continue;
        if (r->action == CF_ACT_ACCEPT)
            explicit_accept = 1;
        else if (r->action != CF_ACT_NONE &&
                 (!decider || map_action(r->action) > map_action(decider->action) ||
                  (map_action(r->action) == map_action(decider->action) &&
                   r->score > decider->score)))
            decider = r; /* strongest action; among equals the top score */
        if (!r->scored)
            continue;
        /* a meta hits once; other rules count each match (tflags multiple) */
        unsigned count = r->type == CF_META ? 1 : (unsigned)val[i];
        tg_grow(&v->hits, &cap, v->nhits + 1, sizeof *v->hits);
        v->hits[v->nhits++] = (rules_hit_t){r->name, r->describe,
                                            r->score * count, count};
        v->score += r->score * count;
        if (r->score > 0 && r->category != RULES_CAT_SPAM &&
            (!have_cat || r->category == RULES_CAT_SECURITY)) {
            worst = r->category;
            have_cat = 1;
        }
    }
    if (decider) {
        v->action = map_action(decider->action);
        v->decided_by = decider->name;
    } else if (explicit_accept) {
        v->action = RULES_ACCEPT;
    } else if (rs->thr.reject >= 0 && v->score >= rs->thr.reject) {
        v->action = RULES_REJECT;
    } else if (rs->thr.quarantine >= 0 && v->score >= rs->thr.quarantine) {
        v->action = RULES_QUARANTINE;
    } else if (v->score >= rs->thr.tag) {
        v->action = RULES_TAG;
    } else {
        v->action = RULES_ACCEPT;
    }
    switch (v->action) {
    case RULES_ACCEPT: v->category = RULES_CAT_CLEAN; break;
    case RULES_TAG: v->category = RULES_CAT_TAGGED; break;
    case RULES_TEMPFAIL: v->category = RULES_CAT_TEMPFAIL; break;
    default:
        v->category = decider ? decider->category : worst;
        break;
    }
    const char *text = decider ? decider->action_text : NULL;
    if (v->action == RULES_REJECT)
        v->reply = make_reply(v->action, text,
                              v->category == RULES_CAT_SECURITY
                                  ? "Message rejected as a security threat"
                              : v->category == RULES_CAT_POLICY
                                  ? "Message rejected by policy"
                                  : "Message rejected as spam");
    else if (v->action == RULES_TEMPFAIL)
        v->reply = make_reply(v->action, text, "Message deferred, try again later");
    else if (v->action == RULES_QUARANTINE) {
        tg_buf b;
        tg_buf_init(&b);
        if (text && *text)
            tg_buf_adds(&b, text);
        else
            tg_buf_printf(&b, "tollgate: %s, score %.1f", cat_names[v->category],
                          v->score);
        v->reply = tg_buf_steal(&b);
    }
}

void rules_verdict_clear(rules_verdict_t *v)
{
    free(v->hits);
    free(v->reply);
    if (v->ruleset)
        rules_unref(v->ruleset);
    memset(v, 0, sizeof *v);
}
