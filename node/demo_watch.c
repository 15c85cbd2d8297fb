/* demo_watch.c — `cofab demo` follows the alliance by reading the hub's ledger (read-only) between steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/cli.h"
#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "demo_internal.h"

#define S_MAX_HISTORY 64    /* records read per order */

int
demo_ledger_open(const demo_t *d, const char *name, ledger_t **out)
{
    char path[DEMO_PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/data/%s", d->dir, name);
    ledger_options_t o = {.read_only = 1};
    return ledger_open(out, path, &o);
}

uint64_t
demo_ledger_size(const demo_t *d, const char *name)
{
    ledger_t *l = NULL;
    if (demo_ledger_open(d, name, &l) != 0)
        return 0;
    uint64_t n = ledger_size(l);
    ledger_destroy(&l);
    return n;
}

int
demo_checkpoint(const demo_t *d, const char *name, uint64_t *size, int *cosigned)
{
    ledger_t *l = NULL;
    char *note = malloc(LEDGER_CHECKPOINT_MAX);
    int rc = note ? demo_ledger_open(d, name, &l) : COFAB_ENOMEM;
    if (rc == 0)
        rc = ledger_checkpoint_latest(l, note, LEDGER_CHECKPOINT_MAX);
    ledger_destroy(&l);
    *size = 0;
    *cosigned = 0;
    /* origin, tree size, root, a blank line, then "— name signature"
     * lines: the hub's first, one per cosigning witness after it. */
    const char *line = note;
    for (int i = 0; rc == 0 && line && *line; i++) {
        if (i == 1)
            *size = strtoull(line, NULL, 10);
        if (!strncmp(line, "\xe2\x80\x94 ", 4))
            (*cosigned)++;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    if (*cosigned > 0)
        (*cosigned)--;
    free(note);
    return rc;
}

int
demo_capacities(const demo_t *d)
{
    ledger_t *l = NULL;
    int rc = demo_ledger_open(d, "hub", &l), n = 0;
    if (rc != 0)
        return rc;
    for (int i = 0; i < DEMO_NFACTORIES; i++) {
        uint64_t seq;
        n += policy_capacity_seq(l, d->fkey[i], &seq) == 0;
    }
    ledger_destroy(&l);
    return n;
}

static int
s_index(const demo_t *d, const uint8_t key[32])
{
    for (int i = 0; i < DEMO_NFACTORIES; i++)
        if (sodium_memcmp(d->fkey[i], key, 32) == 0)
            return i;
    return -1;
}

int
demo_factory_index(const demo_t *d, const char *name)
{
    for (int i = 0; i < DEMO_NFACTORIES; i++)
        if (!strcmp(d->nodes[i].name, name))
            return i;
    return -1;
}

/* The current assignment: factories and "embroidery 3000 + garments 1000". */
static void
s_take_assign(demo_t *d, demo_order_t *o, const payload_assign_t *a)
{
    int64_t qty[DEMO_NFACTORIES] = {0};
    o->nfactories = 0;
    for (uint32_t i = 0; i < a->npieces; i++) {
        int f = s_index(d, a->pieces[i].factory);
        if (f < 0)
            continue;
        int known = 0;
        for (int k = 0; k < o->nfactories; k++)
            known |= o->factory[k] == f;
        if (!known && o->nfactories < DEMO_NFACTORIES)
            o->factory[o->nfactories++] = f;
        qty[f] += a->pieces[i].qty;
    }
    if (o->first < 0 && o->nfactories > 0)
        o->first = o->factory[0];
    o->made_by[0] = 0;
    for (int k = 0; k < o->nfactories; k++) {
        size_t used = strlen(o->made_by);
        if (o->nfactories == 1)
            snprintf(o->made_by, sizeof o->made_by, "%s", d->nodes[o->factory[k]].name);
        else
            snprintf(o->made_by + used, sizeof o->made_by - used, "%s%s %lld", k ? " + " : "",
                     d->nodes[o->factory[k]].name, (long long) qty[o->factory[k]]);
    }
}

/* Reads every record about the order: assignments and reassignments. */
static int
s_history(demo_t *d, ledger_t *l, demo_order_t *o, const uint8_t id[32], payload_assign_t *a)
{
    uint64_t seqs[S_MAX_HISTORY];
    size_t n = 0;
    int rc = ledger_subject_records(l, id, 0, seqs, S_MAX_HISTORY, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        ledger_record_t r;
        envelope_t e;
        rc = ledger_get(l, seqs[i], &buf, &len);
        if (rc == 0)
            rc = ledger_record_decode(&r, buf, len);
        if (rc == 0)
            rc = envelope_decode(&e, r.envelope, r.envelope_len);
        if (rc == 0 && e.kind == ENVELOPE_ASSIGN &&
            payload_assign_decode(a, e.payload, e.payload_len) == 0)
            s_take_assign(d, o, a);
        payload_reassign_t re;
        if (rc == 0 && e.kind == ENVELOPE_REASSIGN &&
            payload_reassign_decode(&re, e.payload, e.payload_len) == 0) {
            o->reassigned = 1;
            o->left = s_index(d, re.factory);
            o->nfactories = 0; /* back to matching */
            o->made_by[0] = 0;
            snprintf(o->why, sizeof o->why, "%s", payload_why_name(re.why));
        }
        free(buf);
    }
    return rc;
}

int
demo_refresh(demo_t *d)
{
    ledger_t *l = NULL;
    payload_assign_t *a = malloc(sizeof *a);
    int rc = a ? demo_ledger_open(d, "hub", &l) : COFAB_ENOMEM;
    for (size_t i = 0; rc == 0 && i < d->norders; i++) {
        demo_order_t *o = &d->orders[i];
        uint8_t id[32];
        policy_order_t p;
        if (!o->id[0] || cli_parse_hex32(o->id, id) != 0)
            continue;
        rc = policy_order(l, id, &p);
        if (rc == COFAB_ENOTFOUND) {
            rc = 0; /* acknowledged, so it is there: a reader racing the commit */
            continue;
        }
        if (rc == 0) {
            o->state = p.state;
            o->first = -1;
            o->reassigned = 0;
            o->nfactories = 0;
            o->made_by[0] = 0;
            rc = s_history(d, l, o, id, a);
        }
    }
    if (rc != 0)
        snprintf(d->why, sizeof d->why, "cannot read the hub's ledger: %s", cofab_strerror(rc));
    ledger_destroy(&l);
    free(a);
    return rc;
}
