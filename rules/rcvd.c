/*
 * rcvd — Received headers to relays (see rcvd.h).
 *
 * The header formats below are the ones SpamAssassin 4.0's Received parser
 * (Message/Metadata/Received.pm) recognises, tried in its order, because a
 * rule reading X-Spam-Relays-* must see the same fields: which MTA wrote a
 * line decides whether its first word is the HELO name or the reverse DNS.
 * The patterns are compiled once, on first use, with PCRE2 (JIT where the
 * library has it); a parse runs a few dozen anchored matches on a line of
 * some 150 bytes.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rcvd.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- patterns ------------------------------------------------------------ */

#define V4O "(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)"
#define V4 V4O "\\." V4O "\\." V4O "\\." V4O
#define H4 "[a-f0-9]{1,4}"
/* SpamAssassin's IP_ADDRESS: IPv4, IPv4 mapped in IPv6, or IPv6 (case-
 * insensitive, an optional "IPv6:" prefix). */
#define IP "(?i:\\b(?<!:)" V4 "\\b|(?:IPv6:|(?<![a-f0-9:]))(?:" \
    "(?:(?:" H4 ":){6}|::(?:" H4 ":){0,5}|(?:" H4 ":){1,5}:|" H4 "::(?:" H4 ":){1,4}|" \
    "(?:" H4 ":){2}:(?:" H4 ":){1,3}|(?:" H4 ":){3}:(?:" H4 ":){1,2}|(?:" H4 ":){4}:" H4 ":)" V4 \
    "|(?:" H4 ":){7}" H4 "|:(?::" H4 "){1,7}|(?:" H4 ":){1,7}:|" H4 ":(?::" H4 "){1,6}" \
    "|(?:" H4 ":){2}(?::" H4 "){1,5}|(?:" H4 ":){3}(?::" H4 "){1,4}|(?:" H4 ":){4}(?::" H4 "){1,3}" \
    "|(?:" H4 ":){5}(?::" H4 "){1,2}|(?:" H4 ":){6}:" H4 "|::)(?![a-f0-9:]))"
#define LH "(?i:localhost(?:\\.localdomain)?|\\b(?<!:)127\\.0\\.0\\.1\\b|::1(?![a-f0-9:]))"
#define HELOCH "[-A-Za-z0-9.^+_&:=?!@%*$\\\\/]"
#define NOTHELOCH "[^-A-Za-z0-9.^+_&:=?!@%*$\\\\/]"

enum {
    /* preparation and the fields any line may carry */
    P_FROM_ANY, P_WITH_LOCAL_FOR, P_FROM_BY_SEMI, P_BRACKET_V4, P_DATE, P_ID,
    P_HELO_EQ, P_HELO_CMD, P_BY, P_AUTH_WITH, P_AUTH_GMAIL, P_AUTH_GMAIL2,
    P_AUTH_COURIER, P_AUTH_SENDMAIL, P_AUTH_GMX, P_AUTH_CP, P_AUTH_POSTFIX,
    P_AUTH_CGP, P_AUTH_DAV, P_AUTH_VIAHTTP, P_ENVFROM,
    /* "from ..." */
    P_SQUIRREL, P_SQUIRREL2, P_AOL, P_SMTPSVC_G, P_SMTPSVC, P_SMTPSVC_PICKUP,
    P_MSSMTP_G, P_MSSMTP, P_XMAIL_G, P_XMAIL, P_XMAIL_ID, P_XMAIL_FROM,
    P_ECEL_G, P_ECEL1, P_ECEL2, P_EXIM_G, P_EXIM_LOCAL, P_EXIM1, P_EXIM2,
    P_EXIM3, P_EXIM_W1, P_EXIM_W2, P_EXIM_W3, P_EXIM_W4, P_POSTFIX_G,
    P_POSTFIX1, P_POSTFIX2, P_SCALIX_G, P_SCALIX, P_DOMINO_G, P_DOMINO,
    P_HTTP_NUM, P_HTTP_IP, P_QMAIL_LDAP, P_SENDMAIL, P_MSEXCH55, P_HELO_EQ2, P_ATTBI1,
    P_ATTBI2, P_IDENT_AT, P_HOTMAIL, P_HOTMAIL_IP, P_QPSMTPD, P_LMTP, P_GMX,
    P_SMTPD_FOR, P_QMAIL, P_QMAIL1, P_QMAIL2, P_QMAIL3, P_QMAIL4, P_VIAHTTP,
    P_SPACEBR, P_PARENBR, P_BRBY, P_PARENIP, P_MDAEMON, P_MDAEMON2, P_SENDMAIL2,
    P_SENDMAIL3, P_SENDMAIL4, P_SENDMAIL5, P_FETCHER, P_QMAIL5, P_QMAIL6,
    P_OUTBLAZE, P_SMAP, P_SMAP2, P_POSTOFFICE, P_ARGOSOFT, P_INTERSCAN,
    P_BSMTP, P_SPIKE, P_YAHOO_HELO, P_CGP_ACCT, P_CGP_VERIFIED, P_CIPHERTRUST,
    P_IRONPORT, P_CONTENTTECH, P_DOUBLEBR, P_TUMBLEWEED, P_ATTBI3, P_FSECURE,
    P_ALTAVISTA, P_SMTPD32, P_CSMAP, P_MAILGATE, P_UNVERIFIED, P_PROXYING,
    P_BRPAREN, P_MTSBP, P_OBTUSE, P_YAHOO_LOGIN, P_XORIG,
    /* handovers that record nothing useful */
    P_I_LOCALIDENT, P_I_LOCALESMTP, P_I_AVG, P_I_UID, P_I_ATBY, P_I_UNKNOWNLOCAL,
    P_I_LOCALHOST, P_I_LOCALHOST2, P_I_LOCALHOST3, P_I_AUTH, P_I_UNIX,
    P_I_AMAZON, P_I_GROUPWISE, P_I_NONAME, P_I_QMSCANNER, P_I_WITHLOCAL,
    P_I_CYRUS, P_I_BYWITH, P_I_WITHBY, P_I_SENDGRID, P_I_OPENSMTPD, P_I_LSMTP,
    P_I_MAILENABLE, P_I_FACEBOOK, P_I_GMAILAPI, P_I_ID, P_I_JETSEND,
    P_GUESS_HELO,
    /* "FROM ..." and "(from ..." */
    P_SIMTA, P_NAVGW, P_I_SUBMIT, P_I_JQUEUE,
    /* finishing */
    P_ANY_BRIP, P_IP_ANY, P_V4MAPPED, NPAT
};

static const struct {
    int id;
    const char *re;
    unsigned opts;
} pat_src[] = {
    { P_FROM_ANY, "^\\(?from ", PCRE2_CASELESS },
    { P_WITH_LOCAL_FOR, "\\bwith local for\\b", 0 },
    { P_FROM_BY_SEMI, "^from (\\S+) by [^\\s;]+ ?;", PCRE2_CASELESS },
    { P_BRACKET_V4, "^\\[[\\d.]+\\]$", 0 },
    { P_DATE, "[\\s;]+(?:(?:Mon|T(?:ue|hu)|Wed|Fri|S(?:at|un)), )?\\d+ (?:J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|ug)|Sep|Oct|Nov|Dec) \\d+ \\d+:\\d+(?::\\d+)? \\S+$", 0 },
    { P_ID, " id <?([^\\s<>;]{3,})", 0 },
    { P_HELO_EQ, "\\bhelo=(" HELOCH "+)(?:" NOTHELOCH "|$)", 0 },
    { P_HELO_CMD, "\\b(?:HELO|EHLO) (" HELOCH "+)(?:" NOTHELOCH "|$)", 0 },
    { P_BY, " by (\\S+)(?:[^-A-Za-z0-9;.]|$)", 0 },
    { P_AUTH_WITH, " with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$)", PCRE2_CASELESS },
    { P_AUTH_GMAIL, " by mx\\.google\\.com with ESMTPS id [a-z0-9]{1,4}sm[0-9]{2,9}[a-z]{3}\\.[0-9]{1,3}\\.[0-9]{4}\\.(?:[0-6][0-9]\\.){4}[0-6][0-9]", 0 },
    { P_AUTH_GMAIL2, "\\(version=([^ ]+) cipher=([^)]+)\\)", 0 },
    { P_AUTH_COURIER, "^from .*?(?:\\]\\)|\\)\\]) \\(AUTH: (LOGIN|PLAIN|DIGEST-MD5|CRAM-MD5) \\S+(?:, .*?)?\\) by ", 0 },
    { P_AUTH_SENDMAIL, "^from .*?(?:\\](?: \\([^)]*\\))?\\)|\\)\\]) .*?\\(.*?authenticated.*?\\).*? by", 0 },
    { P_AUTH_GMX, "from \\S* \\((?:HELO|EHLO) (\\S*)\\) \\[(" IP ")\\] by (mail\\.gmx\\.(?:net|com)) \\([^)]+\\) with ((?:ESMTP|SMTP))", 0 },
    { P_AUTH_CP, "\\) by .+ \\(\\d{1,2}\\.\\d\\.\\d{3}(?:\\.\\d{1,3})?\\) \\(authenticated as .+\\) id ", 0 },
    { P_AUTH_POSTFIX, "\\) \\(Authenticated sender: \\S+\\) by \\S+ \\(([^)]+)\\) with ", 0 },
    { P_AUTH_CGP, "CommuniGate Pro (HTTP|SMTP|XIMSS|IMAP)", 0 },
    { P_AUTH_DAV, " with Microsoft Exchange Server HTTP-DAV\\b", 0 },
    { P_AUTH_VIAHTTP, " \\(via (HTTP.?)\\)(?: |;|$)", PCRE2_CASELESS },
    { P_ENVFROM, "(?:return-path:? |envelope-(?:sender|from)[ =])(\\S+)\\b", PCRE2_CASELESS },

    { P_SQUIRREL, " \\((?:SquirrelMail|NaSMail) authenticated user ", 0 },
    { P_SQUIRREL2, "(" IP ")\\b(?![.-]).{10,80}by (\\S+) with HTTP", 0 },
    { P_AOL, "(" IP ") by (\\S+) \\(" IP "\\) with HTTP \\(WebMailUI\\)", 0 },
    { P_SMTPSVC_G, " SMTPSVC", 0 },
    { P_SMTPSVC, "^(\\S*) \\(\\[(" IP ")\\][^)]{0,40}\\) by (\\S+) with Microsoft SMTPSVC", 0 },
    { P_SMTPSVC_PICKUP, "^mail pickup service by (\\S+) with Microsoft SMTPSVC$", 0 },
    { P_MSSMTP_G, " with (?:Microsoft SMTP Server|mapi id) (?:\\([^)]+\\) )?\\d+\\.\\d+\\.\\d+\\.\\d+(?:$| )", 0 },
    { P_MSSMTP, "^(\\S+) \\(\\[?(" IP ")(?:%[A-Z0-9._~-]*)?\\]?\\) by (\\S+) ", 0 },
    { P_XMAIL_G, "\\[XMail ", 0 },
    { P_XMAIL, "^(\\S+) \\((\\[?" IP "\\]?)(?::\\d+)\\) by (\\S+)(?: \\(\\S+\\))? with \\[XMail", 0 },
    { P_XMAIL_ID, " id <(\\S+)>", 0 },
    { P_XMAIL_FROM, " from <(\\S+)>", 0 },
    { P_ECEL_G, "\\(ecelerity\\b", 0 },
    { P_ECEL1, "^\\(\\[(" IP "):\\d+\\] helo=(\\S+)\\) by (\\S+) ", 0 },
    { P_ECEL2, "^\\S+ \\(\\[(" IP "):\\d+\\]\\) by (\\S+) ", 0 },
    { P_EXIM_G, "Exim", 0 },
    { P_EXIM_LOCAL, "\\bwith local(?:-\\S+)? ", 0 },
    { P_EXIM1, "^\\[(" IP ")\\] \\((.*?)\\) by (\\S+) ", 0 },
    { P_EXIM2, "^(\\S+) \\(\\[(" IP ")\\](.*?)\\) by (\\S+) ", 0 },
    { P_EXIM3, "^(\\S+) \\[(" IP ")\\](:\\d+)? by (\\S+) ", 0 },
    { P_EXIM_W1, "^(\\S+) ", 0 },
    { P_EXIM_W2, " \\((\\S+)\\) ", 0 },
    { P_EXIM_W3, " \\[(" IP ")(?:\\.\\d+)?\\] ", 0 },
    { P_EXIM_W4, "by (\\S+) ", 0 },
    { P_POSTFIX_G, " \\(Postfix\\) with", 0 },
    { P_POSTFIX1, "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\) by (\\S+) ", 0 },
    { P_POSTFIX2, "^(\\S+) \\((\\S+)\\[(" IP ")\\]\\) by (\\S+) ", 0 },
    { P_SCALIX_G, "\\(Scalix SMTP Relay", 0 },
    { P_SCALIX, "^(\\S+) \\( ?(" IP ")\\) by (\\S+)", 0 },
    { P_DOMINO_G, " \\(Lotus Domino ", 0 },
    { P_DOMINO, "^(\\S+) \\(\\[(" IP ")\\]\\) by (\\S+) \\(Lotus", 0 },
    { P_HTTP_NUM, "\\bwith HTTP\\b", 0 },
    { P_HTTP_IP, "^(" IP ") \\(\\[" IP "\\]\\) by (\\S+)", 0 },
    { P_QMAIL_LDAP, " by \\S+ \\(qmail-\\S+\\) with ", 0 },
    { P_SENDMAIL, "^(\\S+) \\((\\S+) \\[(" IP ")\\].*\\) by (\\S+) \\(", 0 },
    { P_MSEXCH55, "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\) by (\\S+) with \\S+ \\(", 0 },
    { P_HELO_EQ2, "^(\\S+) \\(\\[(" IP ")\\] helo=(\\S+)\\) by (\\S+) with ", 0 },
    { P_ATTBI1, "^(\\S+) \\(<unknown\\S*>\\[(" IP ")\\]\\) by (\\S+) ", 0 },
    { P_ATTBI2, "^(\\S+) \\((\\S+\\.\\S+)\\[(" IP ")\\]\\) by (\\S+) ", 0 },
    { P_IDENT_AT, "^(\\S+) \\((\\S*)@\\[(" IP ")\\].*\\) by (\\S+) \\(", 0 },
    { P_HOTMAIL, "by (\\S+\\.hotmail\\.msn\\.com) ", 0 },
    { P_HOTMAIL_IP, "^(" IP ") ", 0 },
    { P_QPSMTPD, "^(\\S+) \\((?:HELO|EHLO) (\\S*)\\) \\((" IP ")\\) by (\\S+) \\(qpsmtpd/\\S+\\) with (?:ESMTP|SMTP)", 0 },
    { P_LMTP, "^(\\S+) \\(LHLO (\\S*)\\) \\((" IP ")\\) by (\\S+) with LMTP", 0 },
    { P_GMX, "^(\\S+) \\((?:HELO|EHLO) (\\S*)\\) \\[(" IP ")\\] by (\\S+) \\([^)]+\\) with (?:ESMTP|SMTP)", 0 },
    { P_SMTPD_FOR, "^(\\S+) \\(\\[(" IP ")\\]\\) by (\\S+) via smtpd \\(for \\S+\\) with SMTP\\(", 0 },
    { P_QMAIL, "^\\S+( \\((?:HELO|EHLO) \\S*\\))? \\((\\S+@)?\\[?" IP "\\]?\\)( \\(envelope-sender <\\S+>\\))? by \\S+( \\(.+\\))* with (.* )?(SMTP|QMQP)(?! id )", 0 },
    { P_QMAIL1, "^(\\S+) \\((?:HELO|EHLO) ([^ ()]*)\\) \\((\\S*)@\\[?(" IP ")\\]?\\)( \\(envelope-sender <\\S+>\\))? by (\\S+)", 0 },
    { P_QMAIL2, "^(\\S+) \\((?:HELO|EHLO) ([^ ()]*)\\) \\(\\[?(" IP ")\\]?\\)( \\(envelope-sender <\\S+>\\))? by (\\S+)", 0 },
    { P_QMAIL3, "^(\\S+) \\((\\S*)@\\[?(" IP ")\\]?\\)( \\(envelope-sender <\\S+>\\))? by (\\S+)", 0 },
    { P_QMAIL4, "^(\\S+) \\(\\[?(" IP ")\\]?\\)( \\(envelope-sender <\\S+>\\))? by (\\S+)", 0 },
    { P_VIAHTTP, "^\\[(" IP ")\\] by (\\S+) via HTTP$", 0 },
    { P_SPACEBR, "^(\\S+) \\( \\[(" IP ")\\]\\).*? by (\\S+) ", 0 },
    { P_PARENBR, "^\\((\\S+) \\[(" IP ")\\]\\) by (\\S+) ", 0 },
    { P_BRBY, "^\\[(" IP ")\\] by (\\S+) ", 0 },
    { P_PARENIP, "^\\(\\[?(" IP ")\\]?\\) by (\\S+) ", 0 },
    { P_MDAEMON, "^(\\S+) \\[(" IP ")\\] by (\\S+) \\[" IP "\\] with ", 0 },
    { P_MDAEMON2, "^(\\S+) \\[\\((" IP ")\\)\\] by (\\S+) \\(" IP "\\) ", 0 },
    { P_SENDMAIL2, "^(\\S+) \\(\\[(" IP ")\\]\\) by (\\S+) \\(", 0 },
    { P_SENDMAIL3, "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\).*? by (\\S+)\\b", 0 },
    { P_SENDMAIL4, "^(\\S+) \\(\\[(" IP ")(?:[.:]\\d+)?\\]\\).*? by (\\S+) ", 0 },
    { P_SENDMAIL5, "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\)(?: \\(authenticated bits=\\d+\\))? by (\\S+) \\(", 0 },
    { P_FETCHER, "with (?:POP3|IMAP)", 0 },
    { P_QMAIL5, "^(\\S+) \\((?:HELO|EHLO) ([^)]*)\\) \\((\\S*@)?\\[?(" IP ")\\]?\\).* by (\\S+) ", 0 },
    { P_QMAIL6, "^(\\S+) \\((\\S*@)?\\[?(" IP ")\\]?\\).* by (\\S+) ", 0 },
    { P_OUTBLAZE, "^\\[(" IP ")\\] by (\\S+) with http for ", 0 },
    { P_SMAP, "^(\\S+)\\((" IP ")\\) by (\\S+) via smap ", 0 },
    { P_SMAP2, "^(\\S+)\\((" IP "), (?:HELO|EHLO) (\\S*)\\) by (\\S+) via smap ", 0 },
    { P_POSTOFFICE, "^\\[(" IP ")\\] by (\\S+) \\(Post", 0 },
    { P_ARGOSOFT, "^\\[(" IP ")\\] by (\\S+) \\(ArGoSoft", 0 },
    { P_INTERSCAN, "^(" IP ") by (\\S+) \\((?:SMTPL|InterScan)\\b", 0 },
    { P_BSMTP, "^\\S+ by \\S+ with BSMTP", 0 },
    { P_SPIKE, "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\) by (\\S+) with ", 0 },
    { P_YAHOO_HELO, "^(\\S+) \\((?:HELO|EHLO) (\\S*)\\) \\((?:(\\S+)@)?(" IP ").*?\\) by (\\S+) with ", 0 },
    { P_CGP_ACCT, "^\\[(" IP ")\\] \\((?:account \\S+ )?(?:HELO|EHLO) (\\S*)\\) by (\\S+) \\(", 0 },
    { P_CGP_VERIFIED, "^(\\S+) \\(\\[(" IP ")\\] verified\\) by (\\S+) \\(", 0 },
    { P_CIPHERTRUST, "^\\(\\[(" IP ")\\]\\) by (\\S+) with ", 0 },
    { P_IRONPORT, "^([^\\d]\\S+) \\((" IP ")\\) by (\\S+) ", 0 },
    { P_CONTENTTECH, "^\\S+ \\(\\S+\\) by \\S+ \\(Content Technologies ", 0 },
    { P_DOUBLEBR, "^(\\S+) \\(\\[(" IP ")\\] \\[(\\S+)\\]\\) by (\\S+) with ", 0 },
    { P_TUMBLEWEED, "^(" IP ") by (\\S+) with ", 0 },
    { P_ATTBI3, "^(\\S+) \\((\\S+)\\[(" IP ")\\]\\) by (\\S+) ", 0 },
    { P_FSECURE, "^\\[(" IP ")\\]\\S+ \\((?:HELO|EHLO) (\\S*)\\) by (\\S+) ", 0 },
    { P_ALTAVISTA, "^(" IP ") \\((?:HELO|EHLO) (\\S*)\\) by (\\S+) ", 0 },
    { P_SMTPD32, "^(\\S+) \\[(" IP ")\\] by (\\S+) ", 0 },
    { P_CSMAP, "^(\\S+)\\((" IP ")\\) by (\\S+) ", 0 },
    { P_MAILGATE, "^\\[(" IP ")\\] by (\\S+) \\(MailGate ", 0 },
    { P_UNVERIFIED, "^(\\S+) \\(unverified \\[(" IP ")\\]\\) by (\\S+) ", 0 },
    { P_PROXYING, "^(" IP ") \\([A-Za-z][^)]+\\) by (\\S+) with ", 0 },
    { P_BRPAREN, "^\\[(" IP ")\\] \\(([^)]+)\\) by (\\S+) ", 0 },
    { P_MTSBP, "^(\\S+) \\((?:\\S+@)?(" IP ")\\) by (\\S+) with ", 0 },
    { P_OBTUSE, "^(\\S+)\\((" IP ")\\)(?:, claiming to be \"(\\S+)\")? via \\S+ by (\\S+),", 0 },
    { P_YAHOO_LOGIN, "^(\\S+) \\((\\S+)@(" IP ") with login\\) by (\\S+\\.yahoo\\.com) with SMTP", 0 },
    { P_XORIG, "^X-Originating-IP: (" IP ")$", 0 },

    { P_I_LOCALIDENT, "^\\S+ \\([^\\s@]+@" LH "\\) by \\S+ \\(", 0 },
    { P_I_LOCALESMTP, "^\\S+ \\S+ by \\S+ with local-e?smtp ", 0 },
    { P_I_AVG, "^127\\.0\\.0\\.1 \\(AVG SMTP \\S+ \\[\\S+\\]\\)", 0 },
    { P_I_UID, "^\\S+@\\S+ by \\S+ by uid \\S+ ", 0 },
    { P_I_ATBY, "^\\S+@\\S+ by \\S+ ", 0 },
    { P_I_UNKNOWNLOCAL, "^Unknown/Local \\(", 0 },
    { P_I_LOCALHOST, "^" LH " \\((?:\\S+@)?" LH "[)\\[]", 0 },
    { P_I_LOCALHOST2, "^\\S+ \\((?:\\S+@)?" LH "\\) ", 0 },
    { P_I_LOCALHOST3, "^\\S+ \\(\\S+@\\S+ \\[" LH "\\]\\) ", 0 },
    { P_I_AUTH, "^\\(AUTH: \\S+\\) by \\S+ with ", 0 },
    { P_I_UNIX, "^localhost \\(localhost \\[\\[UNIX: localhost\\]\\]\\) by ", 0 },
    { P_I_AMAZON, "^\\S+\\.amazon\\.com by \\S+\\.amazon\\.com with ESMTP \\(peer crosscheck: ", 0 },
    { P_I_GROUPWISE, "^[^.]+ by \\S+ with Novell_GroupWise", 0 },
    { P_I_NONAME, "^no\\.name\\.available by \\S+ via smtpd \\(for ", 0 },
    { P_I_QMSCANNER, "^\\S+ by \\S+ \\(.{0,100}\\) with qmail-scanner", 0 },
    { P_I_WITHLOCAL, "^\\S+ by \\S+ with local", 0 },
    { P_I_CYRUS, "^\\S+ \\(\\[unix socket\\]\\) by \\S+ \\(Cyrus v[0-9]*?\\.[0-9]*?\\.[0-9]*?\\) with LMTPA", 0 },
    { P_I_BYWITH, "^\\S+ by \\S+ (?:with|via|for|\\()", 0 },
    { P_I_WITHBY, "^\\S+ (?:(?:with|via|for) \\S+|\\(unverified\\)) by\\b", 0 },
    { P_I_SENDGRID, "^\\S+ \\(unknown\\) by \\S+ \\(SG\\) with \\b", 0 },
    { P_I_OPENSMTPD, "^\\S+ \\(\\S+ \\[local\\]\\) by \\S+ \\(OpenSMTPD\\) with \\b", 0 },
    { P_I_LSMTP, "\\(LSMTP for", 0 },
    { P_I_MAILENABLE, "^\\(\\[" LH "\\]\\) with MailEnable ", 0 },
    { P_I_FACEBOOK, "^facebook\\.com \\([^)]+\\) by facebook\\.com with Thrift id \\S+$", 0 },
    { P_I_GMAILAPI, "^\\S+ named \\S+ by gmailapi\\.google\\.com with HTTPREST$", 0 },
    { P_I_ID, "^\\S+ id \\S+$", 0 },
    { P_I_JETSEND, "^\\[<.*? \\(Jetsend", 0 },
    { P_GUESS_HELO, "^(\\S+)[^-A-Za-z0-9.]", 0 },

    { P_SIMTA, "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\) BY (\\S+) (?:\\([^)]+\\) WITH SMTP )?ID <?(\\S+?)>?(?: FOR <[^>]+>)?$", 0 },
    { P_NAVGW, "^(\\S*) \\[(" IP ")\\]\\) by (\\S+) \\(NAVGW .*?\\) with ", 0 },
    { P_I_SUBMIT, "^\\S+@localhost\\) by \\S+ ", 0 },
    { P_I_JQUEUE, "^[^\\s@]+@[^)]+\\) by \\S+\\(jqueuemail\\) id [^\\s;]+", 0 },

    { P_ANY_BRIP, "\\[(" IP ")\\]", 0 },
    { P_IP_ANY, "(" IP ")", 0 },
    { P_V4MAPPED, "^0*:0*:(?:0*:)*ffff:(\\d+\\.\\d+\\.\\d+\\.\\d+)$", PCRE2_CASELESS },
};

/* A literal every match of the pattern contains ("a|b": one of them),
 * looked for with strstr (strcasestr for caseless patterns) before PCRE2
 * runs: most patterns are turned down so, at a fraction of a match call.
 * After prepare() the line's whitespace is single spaces, so a space here
 * stands for the pattern's \\s or space. */
static const char *const pat_need[NPAT] = {
    [P_WITH_LOCAL_FOR] = "with local for",
    [P_DATE] = ":",
    [P_ID] = " id ",
    [P_HELO_EQ] = "helo=",
    [P_HELO_CMD] = "LO ",
    [P_BY] = " by ",
    [P_AUTH_GMAIL] = " by mx.google.com with ESMTPS id ",
    [P_AUTH_GMAIL2] = "(version=",
    [P_AUTH_COURIER] = "(AUTH: ",
    [P_AUTH_SENDMAIL] = "authenticated",
    [P_AUTH_GMX] = "mail.gmx.",
    [P_AUTH_CP] = "(authenticated as ",
    [P_AUTH_POSTFIX] = "(Authenticated sender: ",
    [P_AUTH_CGP] = "CommuniGate Pro ",
    [P_AUTH_DAV] = " with Microsoft Exchange Server HTTP-DAV",
    [P_AUTH_VIAHTTP] = "(via http",
    [P_ENVFROM] = "return-path|envelope-",
    [P_SQUIRREL] = " authenticated user ",
    [P_SQUIRREL2] = " with HTTP",
    [P_AOL] = " with HTTP (WebMailUI)",
    [P_SMTPSVC_G] = " SMTPSVC",
    [P_SMTPSVC] = " with Microsoft SMTPSVC",
    [P_SMTPSVC_PICKUP] = "mail pickup service by ",
    [P_MSSMTP_G] = "Microsoft SMTP Server|mapi id",
    [P_MSSMTP] = ") by ",
    [P_XMAIL_G] = "[XMail ",
    [P_XMAIL] = "[XMail",
    [P_XMAIL_ID] = " id <",
    [P_XMAIL_FROM] = " from <",
    [P_ECEL_G] = "(ecelerity",
    [P_ECEL1] = "] helo=",
    [P_ECEL2] = "]) by ",
    [P_EXIM_G] = "Exim",
    [P_EXIM_LOCAL] = "with local",
    [P_EXIM1] = ") by ",
    [P_EXIM2] = " ([",
    [P_EXIM3] = "] ",
    [P_EXIM_W2] = ") ",
    [P_EXIM_W3] = "] ",
    [P_EXIM_W4] = "by ",
    [P_POSTFIX_G] = " (Postfix) with",
    [P_POSTFIX1] = "]) by ",
    [P_POSTFIX2] = "]) by ",
    [P_SCALIX_G] = "(Scalix SMTP Relay",
    [P_SCALIX] = ") by ",
    [P_DOMINO_G] = " (Lotus Domino ",
    [P_DOMINO] = "]) by ",
    [P_HTTP_NUM] = "with HTTP",
    [P_HTTP_IP] = "]) by ",
    [P_QMAIL_LDAP] = ") with ",
    [P_SENDMAIL] = " [",
    [P_MSEXCH55] = "]) by ",
    [P_HELO_EQ2] = "] helo=",
    [P_ATTBI1] = "(<unknown",
    [P_ATTBI2] = "]) by ",
    [P_IDENT_AT] = "@[",
    [P_HOTMAIL] = ".hotmail.msn.com ",
    [P_QPSMTPD] = "(qpsmtpd/",
    [P_LMTP] = "(LHLO ",
    [P_GMX] = "LO ",
    [P_SMTPD_FOR] = " via smtpd (for ",
    [P_QMAIL] = " with ",
    [P_QMAIL1] = "LO ",
    [P_QMAIL2] = "LO ",
    [P_QMAIL3] = "@",
    [P_QMAIL4] = ") ",
    [P_VIAHTTP] = " via HTTP",
    [P_SPACEBR] = "( [",
    [P_PARENBR] = "]) by ",
    [P_BRBY] = "] by ",
    [P_PARENIP] = ") by ",
    [P_MDAEMON] = "] with ",
    [P_MDAEMON2] = "[(",
    [P_SENDMAIL2] = "]) by ",
    [P_SENDMAIL3] = "]) ",
    [P_SENDMAIL4] = "]) ",
    [P_SENDMAIL5] = "]) ",
    [P_FETCHER] = "with POP3|with IMAP",
    [P_QMAIL5] = "LO ",
    [P_QMAIL6] = ") ",
    [P_OUTBLAZE] = " with http for ",
    [P_SMAP] = " via smap ",
    [P_SMAP2] = " via smap ",
    [P_POSTOFFICE] = " (Post",
    [P_ARGOSOFT] = " (ArGoSoft",
    [P_INTERSCAN] = " (SMTPL| (InterScan",
    [P_BSMTP] = " with BSMTP",
    [P_SPIKE] = "]) by ",
    [P_YAHOO_HELO] = "LO ",
    [P_CGP_ACCT] = "LO ",
    [P_CGP_VERIFIED] = "] verified) by ",
    [P_CIPHERTRUST] = "]) by ",
    [P_IRONPORT] = ") by ",
    [P_CONTENTTECH] = "(Content Technologies ",
    [P_DOUBLEBR] = "] [",
    [P_TUMBLEWEED] = " by ",
    [P_ATTBI3] = "]) by ",
    [P_FSECURE] = "LO ",
    [P_ALTAVISTA] = "LO ",
    [P_SMTPD32] = "] by ",
    [P_CSMAP] = ") by ",
    [P_MAILGATE] = "(MailGate ",
    [P_UNVERIFIED] = "(unverified [",
    [P_PROXYING] = ") by ",
    [P_BRPAREN] = ") by ",
    [P_MTSBP] = ") by ",
    [P_OBTUSE] = " via ",
    [P_YAHOO_LOGIN] = " with login) by ",
    [P_XORIG] = "X-Originating-IP: ",
    [P_I_LOCALIDENT] = "@",
    [P_I_LOCALESMTP] = "with local-",
    [P_I_AVG] = "(AVG SMTP ",
    [P_I_UID] = " by uid ",
    [P_I_ATBY] = "@",
    [P_I_UNKNOWNLOCAL] = "Unknown/Local (",
    [P_I_LOCALHOST] = "localhost|127.0.0.1|::1",
    [P_I_LOCALHOST2] = "localhost|127.0.0.1|::1",
    [P_I_LOCALHOST3] = "localhost|127.0.0.1|::1",
    [P_I_AUTH] = "(AUTH: ",
    [P_I_UNIX] = "[[UNIX: localhost]]",
    [P_I_AMAZON] = "(peer crosscheck: ",
    [P_I_GROUPWISE] = "Novell_GroupWise",
    [P_I_NONAME] = "no.name.available by ",
    [P_I_QMSCANNER] = "qmail-scanner",
    [P_I_WITHLOCAL] = "with local",
    [P_I_CYRUS] = "[unix socket]",
    [P_I_BYWITH] = " by ",
    [P_I_WITHBY] = " by",
    [P_I_SENDGRID] = "(SG) with ",
    [P_I_OPENSMTPD] = "(OpenSMTPD) with ",
    [P_I_LSMTP] = "(LSMTP for",
    [P_I_MAILENABLE] = "MailEnable ",
    [P_I_FACEBOOK] = "Thrift id ",
    [P_I_GMAILAPI] = "gmailapi.google.com",
    [P_I_ID] = " id ",
    [P_I_JETSEND] = "(Jetsend",
    [P_SIMTA] = " BY ",
    [P_NAVGW] = "(NAVGW ",
    [P_I_SUBMIT] = "@localhost) by ",
    [P_I_JQUEUE] = "(jqueuemail) id ",
    [P_ANY_BRIP] = "[",
    [P_V4MAPPED] = "ffff:",
};
static unsigned char pat_caseless[NPAT];
/* pat_need_id[p]: index of pat_need[p] among the distinct needs (several
 * patterns share one: "]) by ", "LO "), so a line looks for each once. */
static unsigned char pat_need_id[NPAT];
#define RCVD_MAX_NEEDS 128
static pcre2_code *pat[NPAT];
static pcre2_match_context *pat_mctx;
static pthread_once_t pat_once = PTHREAD_ONCE_INIT;

/* Bounds for hostile headers: a line is cut at RCVD_MAX_LINE bytes (real
 * ones are under 1 KB) and each match gives up after RCVD_MATCH_LIMIT
 * steps (counted as no match), so a parse stays under a few milliseconds
 * whatever the header holds. */
#define RCVD_MAX_LINE 8192
#define RCVD_MATCH_LIMIT 200000

static void pat_compile(void)
{
    for (size_t i = 0; i < sizeof pat_src / sizeof *pat_src; i++) {
        int ec;
        PCRE2_SIZE off;
        pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat_src[i].re, PCRE2_ZERO_TERMINATED,
                                      pat_src[i].opts, &ec, &off, NULL);
        if (!c)
            abort(); /* a pattern of this file: a build defect, not input */
        (void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* interpreted if no JIT */
        pat[pat_src[i].id] = c;
        pat_caseless[pat_src[i].id] = (pat_src[i].opts & PCRE2_CASELESS) != 0;
    }
    size_t nneed = 0;
    const char *seen[RCVD_MAX_NEEDS];
    unsigned char seen_ci[RCVD_MAX_NEEDS];
    for (int p = 0; p < NPAT; p++) {
        if (!pat_need[p])
            continue;
        size_t k = 0;
        while (k < nneed && (strcmp(seen[k], pat_need[p]) != 0 || seen_ci[k] != pat_caseless[p]))
            k++;
        if (k == nneed) {
            if (nneed == RCVD_MAX_NEEDS)
                abort(); /* the table above outgrew the memo: a build defect */
            seen_ci[nneed] = pat_caseless[p];
            seen[nneed++] = pat_need[p];
        }
        pat_need_id[p] = (unsigned char)k;
    }
    pat_mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(pat_mctx, RCVD_MATCH_LIMIT);
    pcre2_set_depth_limit(pat_mctx, RCVD_MATCH_LIMIT);
}

/* ---- one line ------------------------------------------------------------ */

/* The line being parsed and the captures of the last successful match. */
typedef struct line {
    char *s;
    size_t len;
    pcre2_match_data *md;
    signed char *need;    /* per distinct need: 0 not looked for yet, 1 the
                             line holds it, -1 not; NULL: no memo */
} line_t;

/* Whether s holds one of need's '|'-separated literals. */
static int has_need(const char *s, const char *need, int caseless)
{
    char one[64];
    for (;;) {
        const char *bar = strchr(need, '|');
        size_t n = bar ? (size_t)(bar - need) : strlen(need);
        memcpy(one, need, n);
        one[n] = 0;
        if (caseless ? strcasestr(s, one) != NULL : strstr(s, one) != NULL)
            return 1;
        if (!bar)
            return 0;
        need = bar + 1;
    }
}

static int m(line_t *l, int p)
{
    if (pat_need[p]) {
        if (!l->need) {
            if (!has_need(l->s, pat_need[p], pat_caseless[p]))
                return 0;
        } else {
            signed char *k = &l->need[pat_need_id[p]];
            if (!*k)
                *k = has_need(l->s, pat_need[p], pat_caseless[p]) ? 1 : -1;
            if (*k < 0)
                return 0;
        }
    }
    return pcre2_match(pat[p], (PCRE2_SPTR)l->s, l->len, 0, 0, l->md, pat_mctx) >= 0;
}

/* Group g of the last match into *dst (replacing it); "" if unset. */
static void take(line_t *l, int g, char **dst)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(l->md);
    free(*dst);
    if ((uint32_t)g >= pcre2_get_ovector_count(l->md) || ov[2 * g] == PCRE2_UNSET)
        *dst = tg_strdup("");
    else
        *dst = tg_strndup(l->s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
}

static int group_set(line_t *l, int g)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(l->md);
    return (uint32_t)g < pcre2_get_ovector_count(l->md) && ov[2 * g] != PCRE2_UNSET;
}

static void set(char **dst, const char *v)
{
    free(*dst);
    *dst = tg_strdup(v);
}

/* Drops the first n bytes of the line. */
static void chop_front(line_t *l, size_t n)
{
    memmove(l->s, l->s + n, l->len - n + 1);
    l->len -= n;
    if (l->need)
        memset(l->need, 0, RCVD_MAX_NEEDS);
}

/* Exim's "(... helo=X ident=Y)" comment: the first helo= and ident= in it. */
static void exim_sub(const char *sub, char **helo, char **ident)
{
    const char *h = strstr(sub, "helo=");
    if (h) {
        h += 5;
        size_t n = 0;
        while (h[n] && !isspace((unsigned char)h[n]))
            n++;
        if (n) {    /* \S+ needs one byte */
            free(*helo);
            *helo = tg_strndup(h, n);
        }
    }
    const char *i = strstr(sub, "ident=");
    if (i) {
        i += 6;
        size_t n = 0;
        while (i[n] && !isspace((unsigned char)i[n]))
            n++;
        free(*ident);
        *ident = tg_strndup(i, n);
    }
}

/* SpamAssassin replaces what cannot be in a token with '!'. */
static void strip_chars(char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char)*s) || strchr("#[]()<>|", *s))
            *s = '!';
}

/* Normalises whitespace, drops trailing ';', the date and ")by". */
static void prepare(line_t *l, const char *v, size_t n)
{
    tg_buf b;
    tg_buf_init(&b);
    int sp = 0;
    for (size_t i = 0; i < n && b.len <= RCVD_MAX_LINE; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == ' ' || (c >= '\t' && c <= '\r')) {
            sp = 1;
            continue;
        }
        if (sp && b.len)
            tg_buf_addc(&b, ' ');
        sp = 0;
        tg_buf_addc(&b, (char)c);
    }
    if (b.len > RCVD_MAX_LINE)
        b.len = RCVD_MAX_LINE;
    tg_buf_addc(&b, 0);
    tg_buf_addc(&b, 0);   /* room for the space parse_line puts in ")by " */
    l->s = tg_buf_steal(&b);
    l->len = strlen(l->s);
    for (;;) {       /* 1 while s/\s?;$// */
        if (l->len && l->s[l->len - 1] == ';') {
            l->len--;
            if (l->len && l->s[l->len - 1] == ' ')
                l->len--;
            l->s[l->len] = 0;
            continue;
        }
        break;
    }
}

static int has(const line_t *l, const char *needle)
{
    return strstr(l->s, needle) != NULL;
}

static int ip_is_private(const char *ip);

/* A reverse DNS name as SpamAssassin keeps it: no trailing dots;
 * "unknown" and "[..." (an MTA's way of saying none) become "". */
static void clean_rdns(char **rdns)
{
    size_t n = strlen(*rdns);
    while (n && (*rdns)[n - 1] == '.')
        (*rdns)[--n] = 0;
    if (!tg_strcasecmp(*rdns, "unknown") || (*rdns)[0] == '[')
        set(rdns, "");
}

/* The parse proper; fields live in r (all non-NULL strings). */
static int parse_line(line_t *l, rcvd_relay_t *r)
{
    int envfrom_set = 0;

    if (!m(l, P_FROM_ANY) || m(l, P_WITH_LOCAL_FOR))
        return RCVD_SKIP;
    if (m(l, P_FROM_BY_SEMI)) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(l->md);
        line_t w = { l->s + ov[2], ov[3] - ov[2], l->md, NULL };
        char c = l->s[ov[3]];
        l->s[ov[3]] = 0;
        int br = m(&w, P_BRACKET_V4);
        l->s[ov[3]] = c;
        if (!br)
            return RCVD_SKIP;
    }
    if (m(l, P_DATE)) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(l->md);
        l->len = ov[0];
        l->s[l->len] = 0;
    }
    char *p = strstr(l->s, ")by ");
    if (p) {
        memmove(p + 2, p + 1, strlen(p + 1) + 1);
        p[1] = ' ';
        l->len++;
    }
    memset(l->need, 0, RCVD_MAX_NEEDS); /* the line changed */

    if (m(l, P_ID))
        take(l, 1, &r->id);
    if (m(l, P_HELO_EQ) || m(l, P_HELO_CMD))
        take(l, 1, &r->helo);
    if (m(l, P_BY))
        take(l, 1, &r->by);

    /* authentication the header records */
    if (has(l, " by ") && m(l, P_AUTH_WITH)) {
        take(l, 1, &r->auth);
    } else if (m(l, P_AUTH_GMAIL) && m(l, P_AUTH_GMAIL2)) {
        char *a = NULL, *b = NULL;
        take(l, 1, &a);
        take(l, 2, &b);
        tg_buf t;
        tg_buf_init(&t);
        tg_buf_printf(&t, "GMail - transport=%s cipher=%s", a, b);
        free(r->auth);
        r->auth = tg_buf_steal(&t);
        free(a);
        free(b);
    } else if (m(l, P_AUTH_COURIER)) {
        take(l, 1, &r->auth);
    } else if (has(l, "authenticated") && m(l, P_AUTH_SENDMAIL)) {
        set(&r->auth, "Sendmail");
    } else if (m(l, P_AUTH_GMX)) {
        char *a = NULL, *b = NULL;
        take(l, 4, &a);
        take(l, 3, &b);
        tg_buf t;
        tg_buf_init(&t);
        tg_buf_printf(&t, "GMX (%s / %s)", a, b);
        free(r->auth);
        r->auth = tg_buf_steal(&t);
        free(a);
        free(b);
    } else if (has(l, " (authenticated as ") && m(l, P_AUTH_CP)) {
        set(&r->auth, "CriticalPath");
    } else if (m(l, P_AUTH_POSTFIX)) {
        char *a = NULL;
        take(l, 1, &a);
        if (!strcmp(a, "Postfix")) {
            free(r->auth);
            r->auth = a;
        } else {
            tg_buf t;
            tg_buf_init(&t);
            tg_buf_printf(&t, "Postfix (%s)", a);
            free(r->auth);
            r->auth = tg_buf_steal(&t);
            free(a);
        }
    } else if (m(l, P_AUTH_CGP) && has(l, " (account ")) {
        set(&r->auth, "Communigate");
    } else if (m(l, P_AUTH_DAV)) {
        set(&r->auth, "HTTP-DAV");
    } else if (has(l, " by ") && m(l, P_AUTH_VIAHTTP)) {
        take(l, 1, &r->auth);
    }

#define GOT(p) m(l, p)
#define ENOUGH goto enough
    if (!strncmp(l->s, "from ", 5)) {
        chop_front(l, 5);
        if (GOT(P_ENVFROM)) {
            take(l, 1, &r->envfrom);
            envfrom_set = 1;
        }
        if (GOT(P_SQUIRREL) && GOT(P_SQUIRREL2)) {
            take(l, 1, &r->ip), take(l, 2, &r->by);
            ENOUGH;
        }
        if (has(l, "aol.com") && has(l, "with HTTP (WebMailUI)") && GOT(P_AOL)) {
            take(l, 1, &r->ip), take(l, 2, &r->by);
            ENOUGH;
        }
        if (GOT(P_SMTPSVC_G)) {
            if (GOT(P_SMTPSVC)) {
                take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
                ENOUGH;
            }
            if (GOT(P_SMTPSVC_PICKUP))
                return RCVD_SKIP;
        } else if (GOT(P_MSSMTP_G)) {
            if (GOT(P_MSSMTP)) {
                take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
                set(&r->id, "");
                ENOUGH;
            }
        } else if (GOT(P_XMAIL_G)) {
            if (GOT(P_XMAIL)) {
                take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
                if (GOT(P_XMAIL_ID))
                    take(l, 1, &r->id);
                if (GOT(P_XMAIL_FROM)) {
                    take(l, 1, &r->envfrom);
                    envfrom_set = 1;
                }
                ENOUGH;
            }
        } else if (GOT(P_ECEL_G)) {
            if (GOT(P_ECEL1)) {
                take(l, 1, &r->ip), take(l, 2, &r->helo), take(l, 3, &r->by);
                ENOUGH;
            }
            if (GOT(P_ECEL2)) {
                take(l, 1, &r->ip), take(l, 2, &r->by);
                ENOUGH;
            }
        } else if (GOT(P_EXIM_G)) {
            if (GOT(P_EXIM_LOCAL))
                return RCVD_SKIP;
            if (GOT(P_EXIM1)) {
                char *sub = NULL;
                take(l, 1, &r->ip), take(l, 2, &sub), take(l, 3, &r->by);
                exim_sub(sub, &r->helo, &r->ident);
                free(sub);
                ENOUGH;
            }
            if (GOT(P_EXIM2)) {
                char *sub = NULL;
                take(l, 1, &r->rdns), take(l, 2, &r->ip), take(l, 3, &sub), take(l, 4, &r->by);
                set(&r->helo, r->rdns);
                exim_sub(sub, &r->helo, &r->ident);
                free(sub);
                ENOUGH;
            }
            if (GOT(P_EXIM3)) {
                take(l, 1, &r->rdns), take(l, 2, &r->ip), take(l, 1, &r->helo), take(l, 4, &r->by);
                ENOUGH;
            }
            if (GOT(P_EXIM_W1))
                take(l, 1, &r->rdns);
            if (GOT(P_EXIM_W2))
                take(l, 1, &r->helo);
            if (GOT(P_EXIM_W3))
                take(l, 1, &r->ip);
            if (GOT(P_EXIM_W4)) {
                take(l, 1, &r->by);
                if (*r->ip)
                    ENOUGH;
            }
        } else if (GOT(P_POSTFIX_G)) {
            if (GOT(P_POSTFIX1) || GOT(P_POSTFIX2)) {
                take(l, 1, &r->helo), take(l, 2, &r->rdns), take(l, 3, &r->ip), take(l, 4, &r->by);
                if (!strcmp(r->rdns, "unknown"))
                    set(&r->rdns, "");
                ENOUGH;
            }
        } else if (GOT(P_SCALIX_G)) {
            if (GOT(P_SCALIX)) {
                take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
                ENOUGH;
            }
        } else if (GOT(P_DOMINO_G)) {
            if (GOT(P_DOMINO)) {
                take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
                ENOUGH;
            }
        }

        if (GOT(P_HTTP_NUM) && GOT(P_HTTP_IP)) {
            take(l, 1, &r->ip), take(l, 2, &r->by);
            ENOUGH;
        }

        if (!GOT(P_QMAIL_LDAP) && GOT(P_SENDMAIL)) {
            take(l, 1, &r->helo), take(l, 2, &r->rdns), take(l, 3, &r->ip), take(l, 4, &r->by);
            if (!strncmp(r->rdns, "IDENT:", 6)) {
                char *at = strchr(r->rdns + 6, '@');
                if (at) {
                    free(r->ident);
                    r->ident = tg_strndup(r->rdns + 6, (size_t)(at - (r->rdns + 6)));
                    char *rest = tg_strdup(at + 1);
                    free(r->rdns);
                    r->rdns = rest;
                }
            }
            char *at = strchr(r->rdns, '@');
            if (at) {
                free(r->ident);
                r->ident = tg_strndup(r->rdns, (size_t)(at - r->rdns));
                char *rest = tg_strdup(at + 1);
                free(r->rdns);
                r->rdns = rest;
            }
            ENOUGH;
        }
        if (GOT(P_MSEXCH55)) {
            take(l, 2, &r->rdns), take(l, 3, &r->ip), take(l, 1, &r->helo), take(l, 4, &r->by);
            ENOUGH;
        }
        if (GOT(P_HELO_EQ2)) {
            take(l, 1, &r->rdns), take(l, 2, &r->ip), take(l, 3, &r->helo), take(l, 4, &r->by);
            ENOUGH;
        }
        if (GOT(P_ATTBI1)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_ATTBI2)) {
            take(l, 1, &r->helo), take(l, 2, &r->rdns), take(l, 3, &r->ip), take(l, 4, &r->by);
            ENOUGH;
        }
        if (GOT(P_IDENT_AT)) {
            take(l, 1, &r->helo), take(l, 3, &r->ip), take(l, 4, &r->by), take(l, 2, &r->ident);
            ENOUGH;
        }
        if (GOT(P_HOTMAIL)) {
            take(l, 1, &r->by);
            if (GOT(P_HOTMAIL_IP))
                take(l, 1, &r->ip);
            ENOUGH;
        }
        if (GOT(P_QPSMTPD) || GOT(P_LMTP) || GOT(P_GMX)) {
            take(l, 1, &r->rdns), take(l, 2, &r->helo), take(l, 3, &r->ip), take(l, 4, &r->by);
            ENOUGH;
        }
        if (GOT(P_SMTPD_FOR)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_QMAIL)) {
            if (GOT(P_QMAIL1)) {
                take(l, 1, &r->rdns), take(l, 2, &r->helo), take(l, 3, &r->ident), take(l, 4, &r->ip), take(l, 6, &r->by);
            } else if (GOT(P_QMAIL2)) {
                take(l, 1, &r->rdns), take(l, 2, &r->helo), take(l, 3, &r->ip), take(l, 5, &r->by);
            } else if (GOT(P_QMAIL3)) {
                take(l, 1, &r->rdns), take(l, 1, &r->helo), take(l, 2, &r->ident), take(l, 3, &r->ip), take(l, 5, &r->by);
            } else if (GOT(P_QMAIL4)) {
                take(l, 1, &r->rdns), take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 4, &r->by);
            }
            if (!strcmp(r->rdns, "unknown"))
                set(&r->rdns, "");
            ENOUGH;
        }
        if (GOT(P_VIAHTTP)) {
            take(l, 1, &r->ip), take(l, 2, &r->by);
            ENOUGH;
        }
        if (GOT(P_SPACEBR)) {
            take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_PARENBR)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_BRBY) || GOT(P_PARENIP)) {
            take(l, 1, &r->ip), take(l, 2, &r->by);
            ENOUGH;
        }
        if (GOT(P_MDAEMON)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_MDAEMON2)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_SENDMAIL2)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_SENDMAIL3)) {
            char *two = NULL;
            take(l, 2, &two);
            if (strcmp(two, "softdnserr") != 0) { /* couriertcpd's "no lookup" */
                free(r->rdns);
                r->rdns = two;
                two = NULL;
            }
            free(two);
            take(l, 1, &r->helo), take(l, 3, &r->ip), take(l, 4, &r->by);
            ENOUGH;
        }
        if (GOT(P_SENDMAIL4)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_SENDMAIL5)) {
            take(l, 1, &r->helo), take(l, 2, &r->rdns), take(l, 3, &r->ip), take(l, 4, &r->by);
            ENOUGH;
        }
        if (GOT(P_FETCHER)) {
            return RCVD_FETCHER;
        }
        if (GOT(P_QMAIL5)) {
            take(l, 1, &r->rdns), take(l, 2, &r->helo);
            if (group_set(l, 3)) {
                take(l, 3, &r->ident);
                size_t n = strlen(r->ident);
                if (n && r->ident[n - 1] == '@')
                    r->ident[n - 1] = 0;
            } else {
                set(&r->ident, "");
            }
            take(l, 4, &r->ip), take(l, 5, &r->by);
            ENOUGH;
        }
        if (GOT(P_QMAIL6)) {
            take(l, 1, &r->rdns), take(l, 1, &r->helo);
            if (group_set(l, 2)) {
                take(l, 2, &r->ident);
                size_t n = strlen(r->ident);
                if (n && r->ident[n - 1] == '@')
                    r->ident[n - 1] = 0;
            } else {
                set(&r->ident, "");
            }
            take(l, 3, &r->ip), take(l, 4, &r->by);
            ENOUGH;
        }
        if (has(l, " with http for ") && GOT(P_OUTBLAZE)) {
            take(l, 1, &r->ip), take(l, 2, &r->by);
            ENOUGH;
        }
        if (has(l, " via smap ") && GOT(P_SMAP)) {
            take(l, 1, &r->rdns), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_SMAP2)) {
            take(l, 1, &r->rdns), take(l, 2, &r->ip), take(l, 3, &r->helo), take(l, 4, &r->by);
            ENOUGH;
        }
        if ((has(l, " (Post") && GOT(P_POSTOFFICE)) || (has(l, " (ArGoSoft") && GOT(P_ARGOSOFT)) ||
            GOT(P_INTERSCAN)) {
            take(l, 1, &r->ip), take(l, 2, &r->by);
            ENOUGH;
        }
        if (has(l, " with BSMTP") && GOT(P_BSMTP)) {
            return RCVD_SKIP;
        }
        if (GOT(P_SPIKE)) {
            take(l, 1, &r->helo), take(l, 2, &r->rdns), take(l, 3, &r->ip), take(l, 4, &r->by);
            ENOUGH;
        }
        if (GOT(P_YAHOO_HELO)) {
            take(l, 1, &r->rdns), take(l, 2, &r->helo), take(l, 4, &r->ip), take(l, 5, &r->by);
            if (group_set(l, 3))
                take(l, 3, &r->ident);
            ENOUGH;
        }
        if (GOT(P_CGP_ACCT)) {
            take(l, 1, &r->ip), take(l, 2, &r->helo), take(l, 3, &r->by);
            ENOUGH;
        }
        if (has(l, " (CommuniGate Pro") && GOT(P_CGP_VERIFIED)) {
            take(l, 1, &r->rdns), take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_CIPHERTRUST)) {
            take(l, 1, &r->ip), take(l, 2, &r->by);
            ENOUGH;
        }
        if (GOT(P_IRONPORT)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_CONTENTTECH)) {
            return RCVD_SKIP;
        }
        if (GOT(P_DOUBLEBR)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 4, &r->by);
            ENOUGH;
        }
        if (GOT(P_TUMBLEWEED)) {
            take(l, 1, &r->ip), take(l, 2, &r->by);
            ENOUGH;
        }
        if (GOT(P_ATTBI3)) {
            take(l, 1, &r->helo), take(l, 2, &r->rdns), take(l, 3, &r->ip), take(l, 4, &r->by);
            ENOUGH;
        }
        if (GOT(P_FSECURE) || GOT(P_ALTAVISTA)) {
            take(l, 1, &r->ip), take(l, 2, &r->helo), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_SMTPD32)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_CSMAP)) {
            take(l, 1, &r->rdns), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_MAILGATE)) {
            take(l, 1, &r->ip), take(l, 2, &r->by);
            ENOUGH;
        }
        if (GOT(P_UNVERIFIED)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_PROXYING)) {
            take(l, 1, &r->ip), take(l, 2, &r->by);
            ENOUGH;
        }
        if (GOT(P_BRPAREN)) {
            char *sub = NULL;
            take(l, 1, &r->ip), take(l, 2, &sub), take(l, 3, &r->by);
            exim_sub(sub, &r->helo, &r->ident);
            free(sub);
            ENOUGH;
        }
        if (GOT(P_MTSBP)) {
            take(l, 1, &r->rdns), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_OBTUSE)) {
            take(l, 1, &r->rdns), take(l, 2, &r->ip), take(l, 4, &r->by);
            if (group_set(l, 3))
                take(l, 3, &r->helo);
            else
                set(&r->helo, "");
            ENOUGH;
        }
        if (GOT(P_YAHOO_LOGIN)) {
            take(l, 1, &r->helo), take(l, 3, &r->ip), take(l, 4, &r->by);
            ENOUGH;
        }
        if (GOT(P_XORIG)) {
            take(l, 1, &r->ip);
            set(&r->by, "");
            ENOUGH;
        }
        static const int ignore[] = {
            P_I_LOCALIDENT, P_I_LOCALESMTP, P_I_AVG, P_I_UID, P_I_ATBY,
            P_I_UNKNOWNLOCAL, P_I_LOCALHOST, P_I_LOCALHOST2, P_I_LOCALHOST3,
            P_I_AUTH, P_I_UNIX, P_I_AMAZON, P_I_GROUPWISE, P_I_NONAME,
        };
        for (size_t i = 0; i < sizeof ignore / sizeof *ignore; i++)
            if (GOT(ignore[i])) {
                return RCVD_SKIP;
            }
        if (GOT(P_I_QMSCANNER)) {
            /* the next (older) handover's sender, in SpamAssassin; not kept */
            return RCVD_SKIP;
        }
        static const int ignore2[] = {
            P_I_WITHLOCAL, P_I_CYRUS, P_I_BYWITH, P_I_WITHBY, P_I_SENDGRID,
            P_I_OPENSMTPD, P_I_LSMTP, P_I_MAILENABLE, P_I_FACEBOOK,
            P_I_GMAILAPI, P_I_ID, P_I_JETSEND,
        };
        for (size_t i = 0; i < sizeof ignore2 / sizeof *ignore2; i++)
            if (GOT(ignore2[i])) {
                return RCVD_SKIP;
            }
        if (!*r->helo && GOT(P_GUESS_HELO))
            take(l, 1, &r->helo);
    } else if (!strncmp(l->s, "FROM ", 5)) {
        chop_front(l, 5);
        if (GOT(P_SIMTA)) {
            take(l, 1, &r->helo), take(l, 2, &r->rdns), take(l, 3, &r->ip), take(l, 4, &r->by), take(l, 5, &r->id);
            if (!strcmp(r->rdns, "unverified"))
                set(&r->rdns, "");
            ENOUGH;
        }
    } else if (!strncmp(l->s, "(from ", 6)) {
        chop_front(l, 6);
        if (GOT(P_NAVGW)) {
            take(l, 1, &r->helo), take(l, 2, &r->ip), take(l, 3, &r->by);
            ENOUGH;
        }
        if (GOT(P_I_SUBMIT) || GOT(P_I_JQUEUE)) {
            return RCVD_SKIP;
        }
    }
#undef GOT
#undef ENOUGH

    if (!*r->ip && m(l, P_ANY_BRIP))
        take(l, 1, &r->ip);
    if (!*r->ip || !*r->by) {
        return RCVD_UNPARSEABLE;
    }

enough:
    clean_rdns(&r->rdns);
    size_t n;

    /* ip: no "IPv6:" prefix, brackets, zone; IPv4-mapped as IPv4 */
    if (!tg_strncasecmp(r->ip, "ipv6:", 5))
        memmove(r->ip, r->ip + 5, strlen(r->ip + 5) + 1);
    if (r->ip[0] == '[')
        memmove(r->ip, r->ip + 1, strlen(r->ip));
    n = strlen(r->ip);
    if (n && r->ip[n - 1] == ']')
        r->ip[--n] = 0;
    char *pct = strrchr(r->ip, '%'); /* the zone cannot hold a '%' */
    if (pct) {
        char *q = pct + 1;
        while (*q && (isalnum((unsigned char)*q) || strchr("._~-", *q)))
            q++;
        if (!*q)
            *pct = 0;
    }
    {
        line_t w = { r->ip, strlen(r->ip), l->md, NULL };
        if (m(&w, P_V4MAPPED)) {
            char *v4 = NULL;
            take(&w, 1, &v4);
            free(r->ip);
            r->ip = v4;
        }
    }
    n = strlen(r->by);
    if (n && r->by[n - 1] == ';')
        r->by[n - 1] = 0;

    strip_chars(r->ip);
    strip_chars(r->rdns);
    strip_chars(r->helo);
    strip_chars(r->by);
    strip_chars(r->ident);
    if (envfrom_set) {
        const char *s = r->envfrom;
        while (*s && (isspace((unsigned char)*s) || *s == '<'))
            s++;
        size_t e = strlen(s);
        while (e && (isspace((unsigned char)s[e - 1]) || s[e - 1] == '>'))
            e--;
        char *ef = tg_strndup(s, e);
        strip_chars(ef);
        free(r->envfrom);
        r->envfrom = ef;
    }
    r->ip_private = ip_is_private(r->ip);
    return RCVD_RELAY;
}

static void relay_init(rcvd_relay_t *r)
{
    r->ip = tg_strdup("");
    r->rdns = tg_strdup("");
    r->helo = tg_strdup("");
    r->by = tg_strdup("");
    r->ident = tg_strdup("");
    r->envfrom = tg_strdup("");
    r->id = tg_strdup("");
    r->auth = tg_strdup("");
    r->ip_private = 0;
}

void rcvd_relay_clear(rcvd_relay_t *r)
{
    free(r->ip);
    free(r->rdns);
    free(r->helo);
    free(r->by);
    free(r->ident);
    free(r->envfrom);
    free(r->id);
    free(r->auth);
    memset(r, 0, sizeof *r);
}

/* rcvd_parse with the caller's match data (16 pairs or more). */
static int parse_md(const char *value, size_t len, rcvd_relay_t *out,
                    pcre2_match_data *md)
{
    pthread_once(&pat_once, pat_compile);
    line_t l;
    signed char memo[RCVD_MAX_NEEDS];
    memset(memo, 0, sizeof memo);
    l.md = md;
    l.need = memo;
    prepare(&l, value, len);
    relay_init(out);
    int rc = parse_line(&l, out);
    if (rc != RCVD_RELAY)
        rcvd_relay_clear(out);
    free(l.s);
    return rc;
}

int rcvd_parse(const char *value, size_t len, rcvd_relay_t *out)
{
    pcre2_match_data *md = pcre2_match_data_create(16, NULL);
    int rc = parse_md(value, len, out, md);
    pcre2_match_data_free(md);
    return rc;
}

void rcvd_relay_string(const rcvd_relay_t *r, int intl, int msa, tg_buf *out)
{
    const char *const part[] = {
        "[ ip=", r->ip, " rdns=", r->rdns, " helo=", r->helo, " by=", r->by,
        " ident=", r->ident, " envfrom=", r->envfrom, intl ? " intl=1 id=" : " intl=0 id=",
        r->id, " auth=", r->auth, msa ? " msa=1 ]" : " msa=0 ]",
    };
    for (size_t i = 0; i < sizeof part / sizeof *part; i++)
        tg_buf_adds(out, part[i]);
}

/* ---- addresses and networks ---------------------------------------------- */

typedef struct net {
    int v6;               /* family: 0 IPv4, 1 IPv6 */
    unsigned char a[16];  /* network, host bits zero */
    unsigned bits;
    int exclude;
} net_t;

struct rcvd_nets {
    net_t *n;
    size_t len, cap;
};

/* Text to 16 bytes (IPv4 as IPv4-mapped IPv6): 0, or -1 if not an address. */
static int ip_parse(const char *s, unsigned char a[16], int *v6)
{
    struct in_addr v4;
    if (inet_pton(AF_INET, s, &v4) == 1) {
        memset(a, 0, 10);
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &v4, 4);
        *v6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, s, a) == 1) {
        static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
        *v6 = memcmp(a, mapped, 12) != 0;
        return 0;
    }
    return -1;
}

static int ip_is_private(const char *ip)
{
    unsigned char a[16];
    int v6;
    if (ip_parse(ip, a, &v6) < 0)
        return 0;
    if (v6) {
        static const unsigned char lo[16] = { [15] = 1 };
        return (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || !memcmp(a, lo, 16);
    }
    const unsigned char *b = a + 12;
    return b[0] == 10 || b[0] == 127 || (b[0] == 169 && b[1] == 254) ||
           (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168) ||
           (b[0] == 100 && b[1] >= 64 && b[1] <= 127);
}

rcvd_nets_t *rcvd_nets_new(void)
{
    return tg_calloc(1, sizeof(rcvd_nets_t));
}

void rcvd_nets_free(rcvd_nets_t *n)
{
    if (!n)
        return;
    free(n->n);
    free(n);
}

void rcvd_nets_clear(rcvd_nets_t *n)
{
    n->len = 0;
}

size_t rcvd_nets_count(const rcvd_nets_t *n)
{
    return n ? n->len : 0;
}

/* One entry: [!]addr[/bits], addr possibly in [brackets], IPv4 possibly
 * partial ("10", "10.", "192.168") meaning /8, /16, /24. */
static int net_parse(const char *e, net_t *out)
{
    char buf[128];
    size_t n = strlen(e);
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, e, n + 1);
    char *s = buf;
    out->exclude = 0;
    if (*s == '!') {
        out->exclude = 1;
        s++;
    }
    long bits = -1;
    char *slash = strchr(s, '/');
    if (slash) {
        *slash = 0;
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (slash[1] == 0 || *end || bits < 0 || bits > 128)
            return -1;
    }
    size_t sl = strlen(s);
    if (sl >= 2 && s[0] == '[' && s[sl - 1] == ']') {
        s[sl - 1] = 0;
        s++;
    }
    int v6;
    if (!strchr(s, ':')) {
        /* IPv4, possibly with fewer than four parts */
        unsigned parts[4] = { 0 };
        int np = 0;
        const char *p = s;
        while (*p && np < 4) {
            if (!isdigit((unsigned char)*p))
                return -1;
            unsigned long v = strtoul(p, (char **)&p, 10);
            if (v > 255)
                return -1;
            parts[np++] = (unsigned)v;
            if (*p == '.')
                p++;
            else if (*p)
                return -1;
        }
        if (*p || np == 0)
            return -1;
        memset(out->a, 0, 10);
        out->a[10] = out->a[11] = 0xff;
        for (int i = 0; i < 4; i++)
            out->a[12 + i] = (unsigned char)parts[i];
        if (bits < 0)
            bits = np * 8;
        if (bits > 32)
            return -1;
        out->bits = 96 + (unsigned)bits;
        v6 = 0;
    } else {
        if (ip_parse(s, out->a, &v6) < 0)
            return -1;
        if (!v6) {  /* ::ffff:a.b.c.d */
            if (bits < 0)
                bits = 128;
            out->bits = (unsigned)bits;
        } else {
            out->bits = bits < 0 ? 128 : (unsigned)bits;
        }
    }
    out->v6 = v6;
    for (unsigned i = out->bits; i < 128; i++)
        out->a[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
    return 0;
}

int rcvd_nets_add(rcvd_nets_t *n, const char *spec, size_t *col, char *err,
                  size_t errlen)
{
    const char *p = spec;
    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            return 0;
        const char *e = p;
        while (*e && !isspace((unsigned char)*e))
            e++;
        char *word = tg_strndup(p, (size_t)(e - p));
        net_t net;
        int rc = net_parse(word, &net);
        if (rc < 0) {
            if (col)
                *col = (size_t)(p - spec);
            snprintf(err, errlen, "'%s' is not an IP address or network (a.b.c.d[/bits], a.b., ipv6[/bits], !net)", word);
            free(word);
            return -1;
        }
        free(word);
        tg_grow(&n->n, &n->cap, n->len + 1, sizeof *n->n);
        n->n[n->len++] = net;
        p = e;
    }
}

static int in_net(const net_t *net, const unsigned char a[16])
{
    unsigned full = net->bits / 8, rest = net->bits % 8;
    if (memcmp(net->a, a, full) != 0)
        return 0;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff00u >> rest);
        if ((a[full] & mask) != net->a[full])
            return 0;
    }
    return 1;
}

int rcvd_nets_contains(const rcvd_nets_t *n, const char *ip)
{
    unsigned char a[16];
    int v6;
    if (!n || ip_parse(ip, a, &v6) < 0)
        return 0;
    for (size_t i = 0; i < n->len; i++)
        if (in_net(&n->n[i], a))
            return !n->n[i].exclude;
    return 0;
}

/* trusted_networks always holds the host itself, as SpamAssassin's does. */
static int trusted_contains(const rcvd_nets_t *n, const char *ip)
{
    unsigned char a[16];
    int v6;
    if (ip_parse(ip, a, &v6) == 0) {
        static const unsigned char lo[16] = { [15] = 1 };
        if ((!v6 && a[12] == 127) || (v6 && !memcmp(a, lo, 16)))
            return 1;
    }
    return rcvd_nets_contains(n, ip);
}

/* ---- the view ------------------------------------------------------------ */

struct rcvd_view {
    tg_buf str[4];            /* trusted, untrusted, internal, external */
    long last_trusted, last_internal;
};

static const char *const pseudo[] = {
    [RCVD_P_TRUSTED] = "X-Spam-Relays-Trusted",
    [RCVD_P_UNTRUSTED] = "X-Spam-Relays-Untrusted",
    [RCVD_P_INTERNAL] = "X-Spam-Relays-Internal",
    [RCVD_P_EXTERNAL] = "X-Spam-Relays-External",
    [RCVD_P_ALL_TRUSTED] = "ALL-TRUSTED",
    [RCVD_P_ALL_INTERNAL] = "ALL-INTERNAL",
    [RCVD_P_ALL_UNTRUSTED] = "ALL-UNTRUSTED",
    [RCVD_P_ALL_EXTERNAL] = "ALL-EXTERNAL",
};

int rcvd_pseudo(const char *name)
{
    for (int i = 0; i < (int)(sizeof pseudo / sizeof *pseudo); i++)
        if (i < RCVD_P_ALL_TRUSTED ? !tg_strcasecmp(name, pseudo[i]) : !strcmp(name, pseudo[i]))
            return i;
    return -1;
}

void rcvd_view_get(const rcvd_view_t *v, int which, tg_buf *out)
{
    if (v->str[which].len)
        tg_buf_add(out, v->str[which].s, v->str[which].len);
}

long rcvd_view_boundary(const rcvd_view_t *v, int which)
{
    return (which ? v->last_internal : v->last_trusted) + 1;
}

static void append(tg_buf *b, const rcvd_relay_t *r, int intl, int msa)
{
    if (b->len)
        tg_buf_addc(b, ' ');
    rcvd_relay_string(r, intl, msa, b);
}

/* Whether the string holds an IP address (SpamAssassin's test for an
 * originating_ip_headers value); the address into out. */
static int find_ip(const char *s, size_t n, char *out, size_t outlen)
{
    pthread_once(&pat_once, pat_compile);
    line_t w = { (char *)s, n, pcre2_match_data_create(4, NULL), NULL };
    int ok = 0;
    if (m(&w, P_IP_ANY)) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w.md);
        size_t l = ov[3] - ov[2];
        if (l < outlen) {
            memcpy(out, s + ov[2], l);
            out[l] = 0;
            ok = 1;
        }
    }
    pcre2_match_data_free(w.md);
    return ok;
}

/* One Received header (or synthetic relay) and what parsing it gave. */
typedef struct entry {
    int kind;                 /* RCVD_*; r is valid only for RCVD_RELAY */
    rcvd_relay_t r;
} entry_t;

struct rcvd_list {
    entry_t *e;
    size_t n, cap;
};

/* Appends an entry (relay zeroed, kind RCVD_SKIP); valid until the next. */
static entry_t *list_push(rcvd_list_t *l)
{
    tg_grow(&l->e, &l->cap, l->n + 1, sizeof *l->e);
    memset(&l->e[l->n], 0, sizeof l->e[l->n]);
    return &l->e[l->n++];
}

static void list_clear(rcvd_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].kind == RCVD_RELAY)
            rcvd_relay_clear(&l->e[i].r);
    free(l->e);
}

rcvd_list_t *rcvd_list_parse(rcvd_get_fn get, void *ctx, size_t max)
{
    rcvd_list_t *l = tg_calloc(1, sizeof *l);
    pcre2_match_data *md = pcre2_match_data_create(16, NULL);
    size_t len;
    const char *h;
    for (size_t i = 0; i < max && (h = get(ctx, "Received", i, &len)); i++) {
        entry_t *e = list_push(l);
        e->kind = parse_md(h, len, &e->r, md);
    }
    pcre2_match_data_free(md);
    return l;
}

void rcvd_list_free(rcvd_list_t *l)
{
    if (!l)
        return;
    list_clear(l);
    free(l);
}

rcvd_view_t *rcvd_view_build(const rcvd_list_t *list, rcvd_get_fn get, void *ctx,
                             const rcvd_trust_t *trust, const rcvd_client_t *client)
{
    rcvd_view_t *v = tg_calloc(1, sizeof *v);
    for (int i = 0; i < 4; i++)
        tg_buf_init(&v->str[i]);
    v->last_trusted = v->last_internal = -1;

    const rcvd_nets_t *tr = trust ? trust->trusted : NULL;
    const rcvd_nets_t *in = trust ? trust->internal : NULL;
    const rcvd_nets_t *msa = trust ? trust->msa : NULL;
    int user_trust = tr != NULL, user_int = in != NULL;
    if (user_trust && !user_int)
        in = tr;
    else if (!user_trust && user_int)
        tr = in;

    /* the client's relay, if the top Received header does not record it,
     * and originating_ip_headers' (the oldest) */
    rcvd_list_t client_rel = { 0 }, orig = { 0 };
    if (client && client->ip && *client->ip &&
        !(list->n && list->e[0].kind == RCVD_RELAY && !strcmp(list->e[0].r.ip, client->ip))) {
        entry_t *e = list_push(&client_rel);
        rcvd_relay_t *r = &e->r;
        e->kind = RCVD_RELAY;
        relay_init(r);
        set(&r->ip, client->ip);
        set(&r->rdns, client->rdns ? client->rdns : "");
        clean_rdns(&r->rdns);
        set(&r->helo, client->helo ? client->helo : "");
        set(&r->by, client->by ? client->by : "");
        if (client->auth && *client->auth)
            set(&r->auth, "ESMTPA");
        strip_chars(r->rdns);
        strip_chars(r->helo);
        strip_chars(r->by);
        r->ip_private = ip_is_private(r->ip);
    }
    for (size_t k = 0; trust && k < trust->noriginating; k++) {
        size_t len;
        const char *h = get(ctx, trust->originating[k], 0, &len);
        char ip[64];
        if (!h || !len || !find_ip(h, len, ip, sizeof ip))
            continue;
        tg_buf line;
        tg_buf_init(&line);
        tg_buf_adds(&line, "from X-Originating-IP: ");
        tg_buf_adds(&line, ip);
        entry_t *e = list_push(&orig);
        e->kind = rcvd_parse(line.s, line.len, &e->r);
        tg_buf_free(&line);
    }
    /* newest first */
    size_t nr = client_rel.n + list->n + orig.n;
    const entry_t **ent = tg_calloc(nr ? nr : 1, sizeof *ent);
    size_t j = 0;
    const rcvd_list_t *parts[3] = { &client_rel, list, &orig };
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < parts[p]->n; i++)
            ent[j++] = &parts[p]->e[i];
    int client_added = client_rel.n > 0;

    /* the split */
    int in_trusted = 1, in_internal = 1, found_msa = 0, allow_fetch = 1;
    int client_trusted = 0, client_internal = 0;
    for (size_t i = 0; i < nr; i++) {
        if (ent[i]->kind == RCVD_FETCHER) {
            if (allow_fetch) {   /* the mail was fetched: start again */
                for (int s = 0; s < 4; s++)
                    if (s != 1)
                        tg_buf_reset(&v->str[s]);
            }
        }
        if (ent[i]->kind != RCVD_RELAY) {
            if (in_trusted)
                v->last_trusted++;
            if (in_internal)
                v->last_internal++;
            continue;
        }
        const rcvd_relay_t *r = &ent[i]->r;
        int is_msa = 0;
        if (in_trusted && !found_msa) {
            if (!user_trust && !user_int) {
                if (!r->ip_private && !*r->auth)
                    in_trusted = in_internal = 0;
            } else if (!*r->auth && !trusted_contains(tr, r->ip)) {
                in_trusted = 0;
                in_internal = 0;
            } else {
                if (in_internal && !*r->auth && !trusted_contains(in, r->ip))
                    in_internal = 0;
                if (rcvd_nets_contains(msa, r->ip)) {
                    found_msa = 1;
                    is_msa = 1;
                }
            }
        }
        if (in_trusted) {
            append(&v->str[0], r, in_internal, is_msa);
            allow_fetch = 1;
            v->last_trusted++;
        } else {
            append(&v->str[1], r, in_internal, is_msa);
            allow_fetch = 0;
        }
        if (in_internal) {
            append(&v->str[2], r, in_internal, is_msa);
            v->last_internal++;
        } else {
            append(&v->str[3], r, in_internal, is_msa);
        }
        if (i == 0 && client_added) { /* whether it moved the indexes */
            client_trusted = in_trusted;
            client_internal = in_internal;
        }
    }
    /* the indexes count Received headers: not the client's relay */
    v->last_trusted -= client_trusted;
    v->last_internal -= client_internal;
    list_clear(&client_rel);
    list_clear(&orig);
    free(ent);
    return v;
}

void rcvd_view_free(rcvd_view_t *v)
{
    if (!v)
        return;
    for (int i = 0; i < 4; i++)
        tg_buf_free(&v->str[i]);
    free(v);
}
