/* gateway_prom.c — checks the hub's hub.prom (Prometheus text format) before the gateway appends it to /metrics. */
#include "cofab/gateway.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

#define S_NAME_MAX 200   /* metric and label name bytes */
#define S_LABELS_MAX 16  /* labels per sample */
#define S_PREFIX "cofab_hub_"

enum { S_UNTYPED = 1, S_COUNTER, S_GAUGE };

/* One metric family met so far. */
typedef struct {
    char name[S_NAME_MAX + 1];  /* family name */
    int type;                   /* S_* once typed, 0 before */
    int help;                   /* 1 once a HELP line was met */
    int samples;                /* 1 once a sample was met */
} s_family_t;

/* One series, for the duplicate check. */
typedef struct {
    uint64_t hash;    /* of the name and the sorted labels */
    unsigned line;    /* where it was */
} s_series_t;

typedef struct {
    s_family_t *fam;            /* families, in order of appearance */
    size_t nfam;
    s_series_t *series;         /* samples */
    size_t nseries;
    size_t current;             /* index of the family of the previous line, or nfam */
} s_ctx_t;

static int
s_name_char(char c, int first, int metric)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (metric && c == ':') || (!first && c >= '0' && c <= '9');
}

/* A name at p (metric: [a-zA-Z_:][a-zA-Z0-9_:]*, label: no ':'); returns
 * its length, 0 if none or too long. */
static size_t
s_name(const char *p, const char *end, int metric)
{
    size_t n = 0;
    while (p + n < end && s_name_char(p[n], n == 0, metric))
        n++;
    return n <= S_NAME_MAX ? n : 0;
}

/* A Prometheus float: [+-]digits[.digits][e[+-]digits], .digits, NaN, +Inf, -Inf. */
static int
s_value_ok(const char *p, size_t n)
{
    if ((n == 3 && memcmp(p, "NaN", 3) == 0) || (n == 4 && (!memcmp(p, "+Inf", 4) ||
                                                            !memcmp(p, "-Inf", 4))))
        return 1;
    size_t i = 0, digits = 0;
    if (n == 0 || n > 64)
        return 0;
    if (p[i] == '+' || p[i] == '-')
        i++;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++, digits++;
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        size_t e = 0;
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++, e++;
        if (e == 0)
            return 0;
    }
    return i == n;
}

static uint64_t
s_fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char) p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The family called name[0..n), created if new; NULL when it was left
 * (another family came in between: a family's lines must be together). */
static s_family_t *
s_family(s_ctx_t *c, const char *name, size_t n)
{
    for (size_t i = 0; i < c->nfam; i++)
        if (strlen(c->fam[i].name) == n && memcmp(c->fam[i].name, name, n) == 0) {
            if (i != c->current)
                return NULL;
            return &c->fam[i];
        }
    s_family_t *f = &c->fam[c->nfam];
    memset(f, 0, sizeof *f);
    memcpy(f->name, name, n);
    c->current = c->nfam++;
    return f;
}

static int
s_named_ok(const char *name, size_t n)
{
    return n > strlen(S_PREFIX) && memcmp(name, S_PREFIX, strlen(S_PREFIX)) == 0;
}

/* "# HELP name text" or "# TYPE name type". */
static int
s_comment(s_ctx_t *c, const char *p, const char *end)
{
    int help = end - p >= 7 && memcmp(p, "# HELP ", 7) == 0;
    if (!help && !(end - p >= 7 && memcmp(p, "# TYPE ", 7) == 0))
        return COFAB_EMALFORMED;
    p += 7;
    size_t n = s_name(p, end, 1);
    if (n == 0 || !s_named_ok(p, n) || p + n == end || p[n] != ' ')
        return COFAB_EMALFORMED;
    s_family_t *f = s_family(c, p, n);
    const char *rest = p + n + 1;
    if (!f || f->samples)
        return COFAB_EMALFORMED; /* comments come before the family's samples */
    if (help) {
        if (f->help)
            return COFAB_EMALFORMED;
        for (const char *q = rest; q < end; q++) /* escapes: \\ and \n only */
            if (*q == '\\' && (q + 1 == end || (q[1] != '\\' && q[1] != 'n')))
                return COFAB_EMALFORMED;
            else if (*q == '\\')
                q++;
        f->help = 1;
        return 0;
    }
    if (f->type)
        return COFAB_EMALFORMED;
    size_t tl = (size_t) (end - rest);
    f->type = tl == 7 && !memcmp(rest, "counter", 7)   ? S_COUNTER
              : tl == 5 && !memcmp(rest, "gauge", 5)   ? S_GAUGE
              : tl == 7 && !memcmp(rest, "untyped", 7) ? S_UNTYPED
                                                       : 0;
    if (!f->type || (f->type == S_COUNTER && (n < 6 || memcmp(p + n - 6, "_total", 6) != 0)))
        return COFAB_EMALFORMED;
    return 0;
}

/* One label value after its opening quote; *q ends after the closing one. */
static int
s_label_value(const char **q, const char *end)
{
    const char *p = *q;
    while (p < end && *p != '"') {
        if (*p == '\\') {
            if (p + 1 == end || (p[1] != '\\' && p[1] != '"' && p[1] != 'n'))
                return COFAB_EMALFORMED;
            p++;
        }
        p++;
    }
    if (p == end)
        return COFAB_EMALFORMED;
    *q = p + 1;
    return 0;
}

typedef struct {
    const char *name;   /* label name */
    size_t n;           /* its length */
    const char *value;  /* value as written, with its escapes */
    size_t vn;          /* its length */
} s_label_t;

static int
s_label_cmp(const void *a, const void *b)
{
    const s_label_t *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* `name[{labels}] value`. */
static int
s_sample(s_ctx_t *c, const char *p, const char *end, unsigned line)
{
    size_t n = s_name(p, end, 1);
    if (n == 0 || !s_named_ok(p, n))
        return COFAB_EMALFORMED;
    s_family_t *f = s_family(c, p, n);
    if (!f || !f->type)
        return COFAB_EMALFORMED; /* every family is typed before its samples */
    f->samples = 1;
    s_label_t labels[S_LABELS_MAX];
    size_t nl = 0;
    const char *q = p + n;
    if (q < end && *q == '{') {
        q++;
        while (q < end && *q != '}') {
            if (nl == S_LABELS_MAX)
                return COFAB_EMALFORMED;
            s_label_t *lb = &labels[nl++];
            lb->name = q;
            lb->n = s_name(q, end, 0);
            if (lb->n == 0 || (lb->n >= 2 && q[0] == '_' && q[1] == '_'))
                return COFAB_EMALFORMED;
            q += lb->n;
            if (end - q < 2 || q[0] != '=' || q[1] != '"')
                return COFAB_EMALFORMED;
            q += 2;
            lb->value = q;
            if (s_label_value(&q, end) != 0)
                return COFAB_EMALFORMED;
            lb->vn = (size_t) (q - lb->value) - 1;
            if (q < end && *q == ',' && q + 1 < end && q[1] != '}')
                q++;
            else if (q < end && *q != '}')
                return COFAB_EMALFORMED;
        }
        if (q == end)
            return COFAB_EMALFORMED;
        q++;
    }
    if (q == end || *q != ' ' || !s_value_ok(q + 1, (size_t) (end - q - 1)))
        return COFAB_EMALFORMED;
    qsort(labels, nl, sizeof labels[0], s_label_cmp);
    uint64_t h = s_fnv(1469598103934665603ull, p, n);
    for (size_t i = 0; i < nl; i++) {
        if (i > 0 && s_label_cmp(&labels[i - 1], &labels[i]) == 0)
            return COFAB_EMALFORMED; /* a label given twice */
        h = s_fnv(h, "\x01", 1);
        h = s_fnv(h, labels[i].name, labels[i].n);
        h = s_fnv(h, "\x02", 1);
        h = s_fnv(h, labels[i].value, labels[i].vn);
    }
    c->series[c->nseries++] = (s_series_t){h, line};
    return 0;
}

static int
s_series_cmp(const void *a, const void *b)
{
    const s_series_t *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

int
gateway_prom_check(const char *text, size_t len, unsigned *bad_line)
{
    unsigned dummy;
    if (!bad_line)
        bad_line = &dummy;
    *bad_line = 0;
    if (!text && len)
        return COFAB_EINVAL;
    if (len > GATEWAY_PROM_MAX)
        return COFAB_ETOOBIG;
    if (len && text[len - 1] != '\n')
        return COFAB_EMALFORMED;
    /* Lines size the tables: each line adds at most one family or series. */
    size_t lines = 0;
    for (const char *p = text, *end = text + len; p < end && lines <= GATEWAY_PROM_LINES;) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        lines++;
        p = nl ? nl + 1 : end;
    }
    s_ctx_t c = {0};
    c.fam = malloc((lines ? lines : 1) * sizeof *c.fam);
    c.series = malloc((lines ? lines : 1) * sizeof *c.series);
    int rc = c.fam && c.series ? 0 : COFAB_ENOMEM;
    unsigned line = 0;
    for (size_t at = 0; rc == 0 && at < len;) {
        const char *p = text + at, *nl = memchr(p, '\n', len - at);
        size_t n = (size_t) (nl - p);
        at += n + 1;
        *bad_line = ++line;
        if (line > GATEWAY_PROM_LINES || n > GATEWAY_PROM_LINE_MAX) {
            rc = COFAB_ETOOBIG;
            break;
        }
        for (size_t i = 0; i < n && rc == 0; i++)
            if ((unsigned char) p[i] < 0x20 || (unsigned char) p[i] > 0x7e)
                rc = COFAB_EMALFORMED; /* printable ASCII only */
        if (rc == 0)
            rc = n > 0 && p[0] == '#' ? s_comment(&c, p, p + n) : s_sample(&c, p, p + n, line);
    }
    if (rc == 0) {
        qsort(c.series, c.nseries, sizeof c.series[0], s_series_cmp);
        for (size_t i = 1; i < c.nseries; i++)
            if (c.series[i].hash == c.series[i - 1].hash) {
                *bad_line = c.series[i].line;
                rc = COFAB_EMALFORMED; /* the same series twice */
                break;
            }
    }
    if (rc == 0)
        *bad_line = 0;
    free(c.fam);
    free(c.series);
    return rc;
}
