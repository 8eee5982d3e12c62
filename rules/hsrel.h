/*
 * hsrel — relations between Vectorscan expressions, proven from their text.
 *
 * fast.c lets one database expression report for two rules when one
 * rule's expression can only match where the other's does: the matches
 * of the smaller are then a subset of the bigger's (same flags), and a
 * rule that is confirmed by PCRE2 anyway loses nothing by taking the
 * bigger's reports. The relation is decided on the expressions' text, so
 * a "yes" is a proof, and "no" only means none was found.
 */
#ifndef TG_HSREL_H
#define TG_HSREL_H

/* 1 if sub is sup with one or more whole optional groups "(?:...)?" (or
 * lazy "(?:...)??") taken out, each at a place where nothing around it
 * can read differently once it is gone: after an unescaped character
 * outside a class, a class or the start, and before "(", "|", ")", "["
 * or the end. Every match of
 * sub is then a match of sup: where sup's group matched empty. 0
 * otherwise, also when sup uses \Q...\E or comments (which this reading
 * does not follow) or the strings are too long to compare (over 64 M
 * position pairs). Neither string is changed; no side effects. */
int hsrel_drops_optional(const char *sub, const char *sup);

#endif
