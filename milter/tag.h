/*
 * tag — the header texts tollgate adds, as pure functions (tested without
 * an MTA): SpamAssassin-style X-Spam-Status and RFC 8601
 * Authentication-Results. Values may be folded with "\n\t"; the MTA turns
 * that into CRLF + tab.
 */
#ifndef TG_TAG_H
#define TG_TAG_H

#include "rules.h"
#include "spf.h"
#include "util.h"

/* "Yes, score=7.2 required=5.0 tests=A,B" (No when below required; tests
 * "none" if nothing scored), folded before 78 columns. Appends to out. */
void tag_spam_status(const rules_verdict_t *v, tg_buf *out);
/* "7.2" */
void tag_spam_score(const rules_verdict_t *v, tg_buf *out);
/* "authserv; spf=fail smtp.mailfrom=example.com" (smtp.helo= for the null
 * sender). */
void tag_auth_results(const char *authserv, const spf_result_t *spf, tg_buf *out);
/* 1 if an Authentication-Results value claims to come from `authserv`
 * (its first token, before ';', equals it case-insensitively): such a
 * header arriving from outside is a forgery and is removed. */
int tag_ar_is_ours(const char *value, const char *authserv);
/* Splits "550 5.7.1 text" into code, enhanced code (may be empty) and
 * text. Pointers into s, which is modified. */
void tag_split_reply(char *s, char **code, char **xcode, char **text);

#endif
