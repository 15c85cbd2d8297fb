/* witness.c — witness policies: parsing the auditor's file, the genesis default, counting cosignatures. */
#include "cofab/witness.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cofab/error.h"

#define S_LINE_MAX 512

__attribute__((format(printf, 4, 5))) static int
s_fail(int code, char *why, size_t why_len, const char *fmt, ...);

static int
s_fail(int code, char *why, size_t why_len, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Splits "keyword value" (single spaces or tabs between); value may be "". */
static void
s_split(char *line, char **word, char **value)
{
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    *word = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if (*p)
        *p++ = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    *value = p;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
        p[--n] = 0;
}

static int
s_parse_quorum(const char *v, uint32_t *out)
{
    if (!*v || strlen(v) > 3)
        return COFAB_EMALFORMED;
    uint32_t k = 0;
    for (const char *c = v; *c; c++) {
        if (*c < '0' || *c > '9')
            return COFAB_EMALFORMED;
        k = k * 10 + (uint32_t) (*c - '0');
    }
    *out = k;
    return 0;
}

static int
s_line(witness_policy_t *p, char *line, unsigned lineno, int *has_quorum, char *why,
       size_t why_len)
{
    char *word, *value;
    s_split(line, &word, &value);
    if (!*word || *word == '#')
        return 0;
    if (!strcmp(word, "quorum")) {
        if (*has_quorum || s_parse_quorum(value, &p->quorum) != 0)
            return s_fail(COFAB_EMALFORMED, why, why_len, "line %u: quorum wants one number",
                          lineno);
        *has_quorum = 1;
        return 0;
    }
    if (strcmp(word, "witness") && strcmp(word, "log"))
        return s_fail(COFAB_EMALFORMED, why, why_len, "line %u: unknown keyword '%s'", lineno,
                      word);
    note_verifier_t v;
    int rc = note_verifier_parse(&v, value, strlen(value));
    if (rc != 0)
        return s_fail(rc, why, why_len, "line %u: not a verifier key (%s)", lineno,
                      cofab_strerror(rc));
    if (!strcmp(word, "log")) {
        if (p->has_log)
            return s_fail(COFAB_EMALFORMED, why, why_len, "line %u: a second log key", lineno);
        p->has_log = 1;
        p->log = v;
        return 0;
    }
    if (p->n == WITNESS_MAX)
        return s_fail(COFAB_ETOOBIG, why, why_len, "line %u: more than %d witnesses", lineno,
                      WITNESS_MAX);
    for (uint32_t i = 0; i < p->n; i++)
        if (!strcmp(p->witnesses[i].name, v.name) || !memcmp(p->witnesses[i].pk, v.pk, 32))
            return s_fail(COFAB_EMALFORMED, why, why_len, "line %u: witness %s listed twice",
                          lineno, v.name);
    p->witnesses[p->n++] = v;
    return 0;
}

int
witness_policy_parse(witness_policy_t *p, const char *text, size_t len, char *why, size_t why_len)
{
    if (!p || (!text && len))
        return COFAB_EINVAL;
    memset(p, 0, sizeof *p);
    if (why && why_len)
        why[0] = 0;
    if (len > WITNESS_POLICY_MAX)
        return s_fail(COFAB_ETOOBIG, why, why_len, "policy over %d bytes", WITNESS_POLICY_MAX);
    char line[S_LINE_MAX + 1];
    unsigned lineno = 0;
    int has_quorum = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && text[i] != '\n')
            i++;
        size_t n = i - start;
        lineno++;
        if (i < len)
            i++; /* the newline */
        if (n > S_LINE_MAX)
            return s_fail(COFAB_ETOOBIG, why, why_len, "line %u: longer than %d bytes", lineno,
                          S_LINE_MAX);
        memcpy(line, text + start, n);
        line[n] = 0;
        if (memchr(line, 0, n))
            return s_fail(COFAB_EMALFORMED, why, why_len, "line %u: NUL byte", lineno);
        int rc = s_line(p, line, lineno, &has_quorum, why, why_len);
        if (rc != 0)
            return rc;
    }
    if (!has_quorum)
        return s_fail(COFAB_EMALFORMED, why, why_len, "no quorum line");
    if (p->quorum > p->n)
        return s_fail(COFAB_EMALFORMED, why, why_len, "quorum %u of only %u witnesses",
                      p->quorum, p->n);
    return 0;
}

void
witness_policy_from_genesis(witness_policy_t *p, const payload_genesis_t *g)
{
    memset(p, 0, sizeof *p);
    p->has_log = 1;
    p->log = g->hub;
    for (uint32_t i = 0; i < g->nmembers && i < PAYLOAD_MAX_MEMBERS && p->n < WITNESS_MAX; i++)
        if (g->members[i].role != PAYLOAD_ROLE_CUSTOMER)
            p->witnesses[p->n++] = g->members[i].key;
    p->quorum = g->witness_k <= p->n ? g->witness_k : p->n;
}

int
witness_policy_count(const witness_policy_t *p, const note_t *note, uint32_t *valid,
                     uint64_t *which, int *forged)
{
    *valid = 0;
    if (which)
        *which = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        int rc = note_verify_cosignature(note, p->witnesses[i].name, p->witnesses[i].pk, NULL);
        if (rc == 0) {
            (*valid)++;
            if (which)
                *which |= (uint64_t) 1 << i;
        } else if (rc != COFAB_ENOTFOUND) {
            if (forged)
                *forged = (int) i;
            return COFAB_EBADSIG;
        }
    }
    return 0;
}
