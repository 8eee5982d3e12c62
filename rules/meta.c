#include "meta.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* AST node kinds. Binary ops keep their operator char(s) in `op`. */
enum { N_NUM, N_NAME, N_NOT, N_NEG, N_BIN };

typedef struct node {
    int kind;
    int op;          /* for N_BIN: one of the OP_* below */
    double num;      /* N_NUM */
    size_t name;     /* N_NAME: index into names */
    int a, b;        /* child node indices */
    int height;      /* 1 for a leaf: the recursion depth of emit/eval_node */
} node_t;

/* Tallest tree accepted: emit and the tree walk recurse once per level,
 * and a chain "A + A + ... " is as tall as it is long (the parser's own
 * nesting limit only counts parentheses and unary operators). */
#define META_MAX_HEIGHT 1000

enum { OP_MUL, OP_DIV, OP_ADD, OP_SUB, OP_LT, OP_GT, OP_LE, OP_GE, OP_EQ,
       OP_NE, OP_AND, OP_OR };

/* The tree compiled to postfix code, run by meta_eval without recursion:
 * operands are pushed, operators replace the top of the stack, and && / ||
 * keep the left value and jump over the right operand when it decides.
 * One 8-byte cell an instruction (a message evaluates some 150 metas spread
 * over the whole code: the smaller it is, the fewer cache lines it costs);
 * I_NUM's constant is the cell after it. */
enum { I_NUM, I_VAL, I_NOT, I_NEG, I_AND, I_OR, I_BIN };

typedef union insn {
    struct {
        uint8_t op;      /* I_* */
        uint8_t bop;     /* I_BIN: OP_* */
        uint16_t name;   /* I_VAL: index into names (meta_bind) */
        int32_t arg;     /* I_VAL: values[] slot, -1 = unbound (0);
                            I_AND/I_OR: cell index after the right operand */
    } i;
    double num;          /* the cell after an I_NUM */
} insn_t;

/* Most names an expression may have and still be compiled (insn_t.name). */
#define META_CODE_NAMES 65535

/* Deepest stack the code may need; deeper expressions use the tree walk. */
#define META_STACK 64

struct meta_expr {
    node_t *nodes;
    size_t nnodes, cap;
    char **names;
    long *slots;
    size_t nnames, ncap;
    int root;
    double zero;     /* the value when every name is 0 (most rules miss) */
    insn_t *code;    /* NULL if the stack would exceed META_STACK */
    size_t ncode;
    int code_moved;  /* code lives in the caller's memory (meta_move_code) */
};

typedef struct parser {
    const char *s;
    size_t pos;
    meta_expr_t *e;
    char *err;
    size_t errlen;
    size_t errpos;
    int depth;
} parser_t;

static int add_node(meta_expr_t *e, node_t n)
{
    int ha = n.kind == N_NOT || n.kind == N_NEG || n.kind == N_BIN ? e->nodes[n.a].height : 0;
    int hb = n.kind == N_BIN ? e->nodes[n.b].height : 0;
    n.height = 1 + (ha > hb ? ha : hb);
    tg_grow(&e->nodes, &e->cap, e->nnodes + 1, sizeof *e->nodes);
    e->nodes[e->nnodes] = n;
    return (int)e->nnodes++;
}

static size_t add_name(meta_expr_t *e, const char *p, size_t len)
{
    for (size_t i = 0; i < e->nnames; i++)
        if (strlen(e->names[i]) == len && memcmp(e->names[i], p, len) == 0)
            return i;
    size_t c2 = e->ncap;
    tg_grow(&e->names, &e->ncap, e->nnames + 1, sizeof *e->names);
    if (c2 != e->ncap)
        e->slots = tg_realloc(e->slots, e->ncap * sizeof *e->slots);
    e->names[e->nnames] = tg_strndup(p, len);
    e->slots[e->nnames] = -1;
    return e->nnames++;
}

static void skip_ws(parser_t *p)
{
    while (isspace((unsigned char)p->s[p->pos]))
        p->pos++;
}

static int fail(parser_t *p, const char *what)
{
    p->errpos = p->pos;
    tg_err(p->err, p->errlen, "%s", what);
    return -1;
}

/* Binary operator at the cursor: returns OP_* and its length, or -1. */
static int peek_binop(parser_t *p, size_t *len)
{
    const char *c = p->s + p->pos;
    static const struct { const char *t; int op; } ops[] = {
        {"&&", OP_AND}, {"||", OP_OR}, {"<=", OP_LE}, {">=", OP_GE},
        {"==", OP_EQ}, {"!=", OP_NE}, {"<", OP_LT}, {">", OP_GT},
        {"*", OP_MUL}, {"/", OP_DIV}, {"+", OP_ADD}, {"-", OP_SUB},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].t);
        if (strncmp(c, ops[i].t, n) == 0) {
            *len = n;
            return ops[i].op;
        }
    }
    return -1;
}

/* Perl precedence, higher binds tighter. */
static int prec(int op)
{
    switch (op) {
    case OP_MUL: case OP_DIV: return 6;
    case OP_ADD: case OP_SUB: return 5;
    case OP_LT: case OP_GT: case OP_LE: case OP_GE: return 4;
    case OP_EQ: case OP_NE: return 3;
    case OP_AND: return 2;
    default: return 1; /* OP_OR */
    }
}

static int parse_expr(parser_t *p, int minprec);

static int parse_unary(parser_t *p)
{
    skip_ws(p);
    if (++p->depth > 200)
        return fail(p, "expression nested too deeply");
    const char *c = p->s + p->pos;
    int r;
    if (*c == '!' && c[1] != '=') {
        p->pos++;
        int a = parse_unary(p);
        if (a < 0)
            return -1;
        r = add_node(p->e, (node_t){.kind = N_NOT, .a = a});
    } else if (*c == '-') {
        p->pos++;
        int a = parse_unary(p);
        if (a < 0)
            return -1;
        r = add_node(p->e, (node_t){.kind = N_NEG, .a = a});
    } else if (*c == '(') {
        p->pos++;
        r = parse_expr(p, 0);
        if (r < 0)
            return -1;
        skip_ws(p);
        if (p->s[p->pos] != ')')
            return fail(p, "expected ')'");
        p->pos++;
    } else if (isdigit((unsigned char)*c) || (*c == '.' && isdigit((unsigned char)c[1]))) {
        char *end;
        double v = strtod(c, &end);
        p->pos += (size_t)(end - c);
        r = add_node(p->e, (node_t){.kind = N_NUM, .num = v});
    } else if (isalpha((unsigned char)*c) || *c == '_') {
        size_t n = 0;
        while (isalnum((unsigned char)c[n]) || c[n] == '_')
            n++;
        if (n == 16 && strncmp(c, "local_tests_only", 16) == 0) {
            /* tollgate runs no network tests: always local-only. */
            r = add_node(p->e, (node_t){.kind = N_NUM, .num = 1});
        } else {
            size_t idx = add_name(p->e, c, n);
            r = add_node(p->e, (node_t){.kind = N_NAME, .name = idx});
        }
        p->pos += n;
    } else if (*c == '\0') {
        return fail(p, "unexpected end of expression, expected a rule name, number or '('");
    } else {
        return fail(p, "expected a rule name, number, '(' or '!'");
    }
    p->depth--;
    return r;
}

static int parse_expr(parser_t *p, int minprec)
{
    int lhs = parse_unary(p);
    if (lhs < 0)
        return -1;
    for (;;) {
        skip_ws(p);
        size_t len;
        int op = peek_binop(p, &len);
        if (op < 0 || prec(op) < minprec)
            break;
        p->pos += len;
        int rhs = parse_expr(p, prec(op) + 1);
        if (rhs < 0)
            return -1;
        lhs = add_node(p->e, (node_t){.kind = N_BIN, .op = op, .a = lhs, .b = rhs});
        if (p->e->nodes[lhs].height > META_MAX_HEIGHT)
            return fail(p, "expression too long (more than 1000 operators in a row)");
    }
    return lhs;
}

static double eval_node(const meta_expr_t *e, int i, const double *v);
static double binop(int op, double a, double b);

/* Appends node i's postfix code; returns the stack depth it needs. */
static int emit(meta_expr_t *e, size_t *cap, int i)
{
    const node_t *n = &e->nodes[i];
    insn_t in = {0};
    int need = 1;
    switch (n->kind) {
    case N_NUM:
        tg_grow(&e->code, cap, e->ncode + 2, sizeof *e->code);
        e->code[e->ncode++] = (insn_t){.i = {.op = I_NUM}};
        e->code[e->ncode++] = (insn_t){.num = n->num};
        return 1;
    case N_NAME:
        in.i.op = I_VAL, in.i.name = (uint16_t)n->name, in.i.arg = -1;
        break;
    case N_NOT: case N_NEG:
        need = emit(e, cap, n->a);
        in.i.op = n->kind == N_NOT ? I_NOT : I_NEG;
        break;
    default: {
        int da = emit(e, cap, n->a);
        if (n->op == OP_AND || n->op == OP_OR) {
            size_t at = e->ncode;
            tg_grow(&e->code, cap, e->ncode + 1, sizeof *e->code);
            e->code[e->ncode++] = (insn_t){.i = {.op = n->op == OP_AND ? I_AND : I_OR}};
            int db = emit(e, cap, n->b); /* the left value was popped */
            e->code[at].i.arg = (int32_t)e->ncode;
            return da > db ? da : db;
        }
        int db = emit(e, cap, n->b) + 1;
        need = da > db ? da : db;
        in.i.op = I_BIN, in.i.bop = (uint8_t)n->op;
        break;
    }
    }
    tg_grow(&e->code, cap, e->ncode + 1, sizeof *e->code);
    e->code[e->ncode++] = in;
    return need;
}

int meta_parse(const char *text, meta_expr_t **out, size_t *errpos,
               char *err, size_t errlen)
{
    meta_expr_t *e = tg_calloc(1, sizeof *e);
    parser_t p = {.s = text, .e = e, .err = err, .errlen = errlen};
    int root = parse_expr(&p, 0);
    if (root >= 0) {
        skip_ws(&p);
        if (p.s[p.pos] != '\0') {
            root = fail(&p, p.s[p.pos] == ')' ? "unbalanced ')'"
                                               : "expected an operator");
        }
    }
    if (root < 0) {
        if (errpos)
            *errpos = p.errpos;
        meta_free(e);
        return -1;
    }
    e->root = root;
    size_t cap = 0;
    if (e->nnames > META_CODE_NAMES || e->nnodes > INT32_MAX / 2 ||
        emit(e, &cap, root) > META_STACK) {
        free(e->code);
        e->code = NULL;
        e->ncode = 0;
    }
    e->zero = meta_eval(e, NULL); /* no slot is bound yet: all names 0 */
    *out = e;
    return 0;
}

void meta_free(meta_expr_t *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nnames; i++)
        free(e->names[i]);
    free(e->names);
    free(e->slots);
    free(e->nodes);
    if (!e->code_moved)
        free(e->code);
    free(e);
}

size_t meta_code_size(const meta_expr_t *e)
{
    return e->code ? e->ncode * sizeof *e->code : 0;
}

void meta_move_code(meta_expr_t *e, void *dst)
{
    if (!e->code)
        return;
    memcpy(dst, e->code, e->ncode * sizeof *e->code);
    if (!e->code_moved)
        free(e->code);
    e->code = dst;
    e->code_moved = 1;
}

size_t meta_nnames(const meta_expr_t *e) { return e->nnames; }
const char *meta_name(const meta_expr_t *e, size_t i) { return e->names[i]; }
void meta_bind(meta_expr_t *e, size_t i, long slot)
{
    e->slots[i] = slot;
    for (size_t k = 0; k < e->ncode; k++) {
        if (e->code[k].i.op == I_NUM)
            k++; /* its constant */
        else if (e->code[k].i.op == I_VAL && e->code[k].i.name == i)
            e->code[k].i.arg = (int32_t)slot;
    }
}
long meta_slot(const meta_expr_t *e, size_t i) { return e->slots[i]; }

static double eval_node(const meta_expr_t *e, int i, const double *v)
{
    const node_t *n = &e->nodes[i];
    switch (n->kind) {
    case N_NUM:
        return n->num;
    case N_NAME: {
        long s = e->slots[n->name];
        return s < 0 ? 0 : v[s];
    }
    case N_NOT:
        return eval_node(e, n->a, v) == 0 ? 1 : 0;
    case N_NEG:
        return -eval_node(e, n->a, v);
    default:
        break;
    }
    double a = eval_node(e, n->a, v);
    switch (n->op) {
    case OP_AND: return a == 0 ? a : eval_node(e, n->b, v);
    case OP_OR:  return a != 0 ? a : eval_node(e, n->b, v);
    default: break;
    }
    return binop(n->op, a, eval_node(e, n->b, v));
}

double meta_zero(const meta_expr_t *e) { return e->zero; }

static double binop(int op, double a, double b)
{
    switch (op) {
    case OP_MUL: return a * b;
    case OP_DIV: return b == 0 ? 0 : a / b;
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_LT:  return a < b;
    case OP_GT:  return a > b;
    case OP_LE:  return a <= b;
    case OP_GE:  return a >= b;
    case OP_EQ:  return a == b;
    default:     return a != b; /* OP_NE */
    }
}

double meta_eval(const meta_expr_t *e, const double *values)
{
    if (!e->code)
        return eval_node(e, e->root, values);
    return meta_run(e->code, e->ncode, values);
}

const void *meta_code(const meta_expr_t *e, size_t *ncells)
{
    *ncells = e->code ? e->ncode : 0;
    return e->code;
}

double meta_run(const void *code, size_t ncells, const double *values)
{
    double st[META_STACK];
    int sp = -1;
    const insn_t *c = code;
    for (size_t pc = 0; pc < ncells; pc++) {
        switch (c[pc].i.op) {
        case I_NUM:
            st[++sp] = c[++pc].num;
            break;
        case I_VAL:
            st[++sp] = c[pc].i.arg < 0 ? 0 : values[c[pc].i.arg];
            break;
        case I_NOT:
            st[sp] = st[sp] == 0 ? 1 : 0;
            break;
        case I_NEG:
            st[sp] = -st[sp];
            break;
        case I_AND: /* a == 0 decides: keep it, skip the right operand */
            if (st[sp] == 0)
                pc = (size_t)c[pc].i.arg - 1;
            else
                sp--;
            break;
        case I_OR:
            if (st[sp] != 0)
                pc = (size_t)c[pc].i.arg - 1;
            else
                sp--;
            break;
        default:
            sp--;
            st[sp] = binop(c[pc].i.bop, st[sp], st[sp + 1]);
            break;
        }
    }
    return st[0];
}
