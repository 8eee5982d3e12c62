/*
 * meta — SpamAssassin meta-rule expressions: boolean and arithmetic over rule
 * names, evaluated with Perl's semantics (`A || B` yields the first true
 * operand's value, `!A` yields 1 or 0, comparisons yield 1 or 0, x/0 = 0).
 * Operators: ! unary- * / + - < > <= >= == != && || ( ). A rule name's value
 * is its hit count (1 for an ordinary hit, N for tflags multiple, the
 * expression's value for a meta), 0 if it did not hit or does not exist.
 */
#ifndef TG_META_H
#define TG_META_H

#include <stddef.h>

typedef struct meta_expr meta_expr_t;

/* Parses `text`. On error returns -1, sets *errpos to the 0-based offset of
 * the offending token and describes it in err. The result owns copies of
 * every rule name it refers to. */
int meta_parse(const char *text, meta_expr_t **out, size_t *errpos,
               char *err, size_t errlen);
void meta_free(meta_expr_t *e);

/* Names referenced, in order of first appearance (each once). */
size_t meta_nnames(const meta_expr_t *e);
const char *meta_name(const meta_expr_t *e, size_t i);
/* Binds name i to a slot (< 2^31) of the values array passed to meta_eval;
 * -1 (the default) means "no such rule": always 0. */
void meta_bind(meta_expr_t *e, size_t i, long slot);
long meta_slot(const meta_expr_t *e, size_t i);

/* The expression's value when every name is 0, computed once at parse:
 * callers skip meta_eval when no input is set (about 98% of rule values
 * are 0 on real mail; rules_match_all does). */
double meta_zero(const meta_expr_t *e);

/* Bytes of the expression's evaluation code (0 if it has none); moving it
 * to dst (that many bytes, aligned for a double), which the caller owns
 * and keeps until meta_free. rules_t lays its metas' code out in their
 * evaluation order, so a message's meta pass reads it front to back
 * instead of from 900 separate allocations. */
size_t meta_code_size(const meta_expr_t *e);
void meta_move_code(meta_expr_t *e, void *dst);

/* Evaluates with values[slot] for each bound name. Pure. */
double meta_eval(const meta_expr_t *e, const double *values);

/* The expression's code and its length in cells, or NULL (and 0) when it
 * has none (a stack deeper than the code runs with, or more than 65,535
 * names): then only meta_eval evaluates it. meta_run(code, ncells, values)
 * is meta_eval(e, values) without reading e, for callers that keep the
 * pointer and length next to their other per-meta data. The code is
 * e's (or meta_move_code's dst): valid while e is, bindings included. */
const void *meta_code(const meta_expr_t *e, size_t *ncells);
double meta_run(const void *code, size_t ncells, const double *values);

#endif
