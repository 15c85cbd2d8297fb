/* audit_rules.c — replays every record through the alliance's rules and the matcher, for `cofab audit verify`. */
#include "cofab/audit_rules.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/util.h"
#include "cofab/match_input.h"
#include "cofab/matcher.h"
#include "cofab/payload.h"

/* Records judged per scratch transaction: one audit chunk at most. */
#define S_BATCH 4096

/* An order of the replayed round, for lookup by id. */
typedef struct {
    const uint8_t *id;          /* borrowed from the matcher result */
    uint32_t index;             /* its index in the result */
} s_slot_t;

struct audit_rules_t {
    audit_hook_t hook;          /* what audit_verify() calls */
    int replay;                 /* 1: rerun the matcher per assign round */
    char dir[PATH_MAX];         /* scratch directory (removed by destroy) */
    int dir_made;               /* 1 once dir exists */
    ledger_t *scratch;          /* replica the rules are replayed into */
    ledger_record_t *recs;      /* records waiting to be applied */
    envelope_t *envs;           /* their envelopes */
    ledger_result_t *res;       /* apply outcomes */
    size_t n;                   /* records waiting */
    int failed;                 /* a refusal was reported: judge nothing more */
    /* The assign round being checked (replay only). */
    int in_round;               /* 1 while a round's assigns are arriving */
    uint64_t basis;             /* ledger size the round names */
    uint64_t last_assign;       /* position of its latest assign */
    match_input_t *in;          /* the replayed matcher input */
    match_input_cache_t *cache; /* decoded capacities, across rounds */
    matcher_result_t *result;   /* and its result */
    s_slot_t *slots;            /* result orders sorted by id */
    uint8_t *written;           /* per result order: 1 once its assign was seen */
    uint32_t norders;           /* orders in the result */
    payload_assign_t *got;      /* scratch: the ledger's assign, decoded */
    payload_assign_t *want;     /* scratch: the replay's assign */
    uint64_t rounds, assigns, reassigns; /* counters for the summary */
};

__attribute__((format(printf, 4, 5))) static int
s_refuse(char *why, size_t why_len, int code, const char *fmt, ...);

/* Writes the sentence for a refusal and returns its code. */
static int
s_refuse(char *why, size_t why_len, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return code;
}

static void
s_short_id(const uint8_t id[32], char out[17])
{
    sodium_bin2hex(out, 17, id, 8);
}

/* A member's name from the scratch state, or the key's first bytes. */
static void
s_name(audit_rules_t *self, const uint8_t key[32], char *out, size_t len)
{
    policy_member_t m;
    if (self->scratch && policy_member(self->scratch, key, &m) == 0) {
        snprintf(out, len, "%s", m.name);
        return;
    }
    char hex[17];
    s_short_id(key, hex);
    snprintf(out, len, "%s…", hex);
}

/* Applies the waiting records in one scratch transaction. */
static int
s_apply(audit_rules_t *self, char *why, size_t why_len, int64_t *bad)
{
    if (self->n == 0 || self->failed)
        return 0;
    size_t n = self->n;
    self->n = 0;
    int rc = ledger_replicate(self->scratch, self->recs, self->envs, n, self->res);
    if (rc != 0)
        return rc <= COFAB_EIO ? rc : COFAB_ESTORE;
    for (size_t i = 0; i < n; i++) {
        if (self->res[i].code == 0)
            continue;
        const envelope_t *e = &self->envs[i];
        char who[NOTE_MAX_NAME + 8], order[17];
        s_name(self, e->author, who, sizeof who);
        s_short_id(e->subject, order);
        self->failed = 1;
        *bad = (int64_t) self->recs[i].seq;
        return s_refuse(why, why_len, self->res[i].code,
                        "record %llu: %s by %s (order %s…) breaks the alliance rules: %s",
                        (unsigned long long) self->recs[i].seq, envelope_kind_name(e->kind), who,
                        order, cofab_strerror(self->res[i].code));
    }
    return 0;
}

static int
s_slot_cmp(const void *a, const void *b)
{
    return memcmp(((const s_slot_t *) a)->id, ((const s_slot_t *) b)->id, 32);
}

static void
s_round_clear(audit_rules_t *self)
{
    matcher_result_destroy(&self->result);
    match_input_destroy(&self->in);
    free(self->slots);
    free(self->written);
    self->slots = NULL;
    self->written = NULL;
    self->norders = 0;
    self->in_round = 0;
}

/* The round is over: every order the replay placed must have its assign. */
static int
s_round_end(audit_rules_t *self, char *why, size_t why_len, int64_t *bad)
{
    int rc = 0;
    for (uint32_t i = 0; i < self->norders && rc == 0; i++) {
        const matcher_order_result_t *o = matcher_result_order(self->result, i);
        if (o->status != MATCHER_PLACED || self->written[i])
            continue;
        char order[17];
        s_short_id(o->id, order);
        self->failed = 1;
        *bad = (int64_t) self->last_assign;
        rc = s_refuse(why, why_len, COFAB_EDECISION,
                      "record %llu: the round on the first %llu records places order %s… on "
                      "replay, but the hub wrote no assign for it (withheld)",
                      (unsigned long long) self->last_assign, (unsigned long long) self->basis,
                      order);
    }
    s_round_clear(self);
    return rc;
}

/* Starts a round at position pos: the scratch holds exactly the prefix
 * the hub computed on, so the matcher sees what the hub saw. */
static int
s_round_start(audit_rules_t *self, uint64_t pos, uint64_t basis, char *why, size_t why_len,
              int64_t *bad)
{
    if (basis != pos) {
        self->failed = 1;
        *bad = (int64_t) pos;
        return s_refuse(why, why_len, COFAB_EDECISION,
                        "record %llu: assign names the first %llu records as its basis, but a "
                        "round must directly follow the prefix it was computed on",
                        (unsigned long long) pos, (unsigned long long) basis);
    }
    int rc = match_input_build_cached(self->scratch, self->cache, &self->in);
    if (rc == 0)
        rc = matcher_solve(match_input_problem(self->in), match_input_params(self->in),
                           &self->result);
    if (rc != 0)
        return rc <= COFAB_EIO ? rc : COFAB_ESTORE; /* our own replica: not the ledger's fault */
    self->norders = matcher_result_norders(self->result);
    self->slots = calloc(self->norders ? self->norders : 1, sizeof *self->slots);
    self->written = calloc(self->norders ? self->norders : 1, 1);
    if (!self->slots || !self->written)
        return COFAB_ENOMEM;
    for (uint32_t i = 0; i < self->norders; i++)
        self->slots[i] = (s_slot_t){matcher_result_order(self->result, i)->id, i};
    qsort(self->slots, self->norders, sizeof *self->slots, s_slot_cmp);
    self->in_round = 1;
    self->basis = basis;
    self->rounds++;
    return 0;
}

/* Compares one assign with the replayed decision for its order. */
static int
s_check_assign(audit_rules_t *self, uint64_t pos, const envelope_t *e, char *why, size_t why_len,
               int64_t *bad)
{
    char order[17];
    s_short_id(e->subject, order);
    s_slot_t key = {e->subject, 0};
    const s_slot_t *slot = bsearch(&key, self->slots, self->norders, sizeof key, s_slot_cmp);
    const matcher_order_result_t *o = slot ? matcher_result_order(self->result, slot->index) : NULL;
    self->failed = 1; /* until it checks out */
    *bad = (int64_t) pos;
    if (!o || o->status != MATCHER_PLACED)
        return s_refuse(why, why_len, COFAB_EDECISION,
                        "record %llu: assign of order %s… that the matcher, replayed on the "
                        "first %llu records, does not place (%s)",
                        (unsigned long long) pos, order, (unsigned long long) self->basis,
                        o ? matcher_status_name(o->status) : "not a pending order");
    if (self->written[slot->index])
        return s_refuse(why, why_len, COFAB_EDECISION,
                        "record %llu: a second assign of order %s… in one round",
                        (unsigned long long) pos, order);
    uint8_t *expect = NULL;
    size_t elen = 0;
    int rc = match_input_assign(self->in, self->result, o, self->want);
    if (rc == 0)
        rc = payload_assign_encode(self->want, &expect, &elen);
    if (rc != 0)
        return rc <= COFAB_EIO ? rc : COFAB_ESTORE;
    int same = elen == e->payload_len && sodium_memcmp(expect, e->payload, elen) == 0;
    free(expect);
    if (!same) {
        char ledger_f[NOTE_MAX_NAME + 8] = "?", replay_f[NOTE_MAX_NAME + 8] = "?";
        if (payload_assign_decode(self->got, e->payload, e->payload_len) == 0)
            s_name(self, self->got->pieces[0].factory, ledger_f, sizeof ledger_f);
        s_name(self, self->want->pieces[0].factory, replay_f, sizeof replay_f);
        return s_refuse(why, why_len, COFAB_EDECISION,
                        "record %llu: assign of order %s… differs from the matcher replayed on "
                        "the first %llu records (ledger: %s, replay: %s%s)",
                        (unsigned long long) pos, order, (unsigned long long) self->basis,
                        ledger_f, replay_f,
                        strcmp(ledger_f, replay_f) ? "" : "; same factory, other pieces or cost");
    }
    self->written[slot->index] = 1;
    self->last_assign = pos;
    self->assigns++;
    self->failed = 0;
    return 0;
}

/* A reassign for a timeout must come after the acceptance time ran out. */
static int
s_check_reassign(audit_rules_t *self, uint64_t pos, const ledger_record_t *rec,
                 const envelope_t *e, char *why, size_t why_len, int64_t *bad)
{
    payload_reassign_t r;
    policy_order_t o;
    policy_alliance_t a;
    self->reassigns++;
    if (payload_reassign_decode(&r, e->payload, e->payload_len) != 0 ||
        r.why != PAYLOAD_WHY_TIMEOUT || policy_order(self->scratch, e->subject, &o) != 0 ||
        policy_alliance(self->scratch, &a) != 0)
        return 0; /* the apply hook judges what is left */
    uint64_t due = o.assigned_ms + (uint64_t) a.ack_timeout_s * 1000u;
    if (o.assign_seq == 0 || rec->time_ms > due)
        return 0;
    char order[17], who[NOTE_MAX_NAME + 8];
    s_short_id(e->subject, order);
    s_name(self, r.factory, who, sizeof who);
    self->failed = 1;
    *bad = (int64_t) pos;
    return s_refuse(why, why_len, COFAB_EDECISION,
                    "record %llu: order %s… taken from %s for a timeout %llu ms before its %u s "
                    "acceptance time ran out",
                    (unsigned long long) pos, order, who,
                    (unsigned long long) (due - rec->time_ms), a.ack_timeout_s);
}

/* Record 0: the scratch replica starts from the same genesis. */
static int
s_genesis(audit_rules_t *self, const ledger_record_t *rec, const envelope_t *e, char *why,
          size_t why_len, int64_t *bad)
{
    payload_genesis_t *g = malloc(sizeof *g);
    if (!g)
        return COFAB_ENOMEM;
    int rc = payload_genesis_decode(g, e->payload, e->payload_len);
    if (rc == 0) {
        /* The audit checks the tree and the author chains itself. */
        ledger_options_t o = {.no_sync = 1, .scratch = 1, .apply = policy_apply};
        rc = ledger_create_replica(&self->scratch, self->dir, g->origin, rec, e, &o);
    }
    free(g);
    if (rc == 0 || rc <= COFAB_EIO)
        return rc;
    self->failed = 1;
    *bad = 0;
    return s_refuse(why, why_len, rc, "record 0: the genesis breaks the alliance rules: %s",
                    cofab_strerror(rc));
}

static int
s_record(void *ctx, uint64_t pos, const ledger_record_t *rec, const envelope_t *e, char *why,
         size_t why_len, int64_t *bad, int64_t *related)
{
    audit_rules_t *self = ctx;
    (void) related;
    if (self->failed)
        return 0;
    if (pos == 0)
        return s_genesis(self, rec, e, why, why_len, bad);
    if (!self->scratch)
        return 0;
    int rc = 0;
    uint64_t basis = 0;
    int is_assign = e->kind == ENVELOPE_ASSIGN && self->replay;
    if (is_assign) {
        if (payload_assign_decode(self->got, e->payload, e->payload_len) != 0)
            is_assign = 0; /* malformed: the apply hook names it */
        else
            basis = self->got->basis;
    }
    if (self->in_round && (!is_assign || basis != self->basis))
        rc = s_round_end(self, why, why_len, bad);
    if (rc == 0 && (e->kind == ENVELOPE_REASSIGN || (is_assign && !self->in_round)))
        rc = s_apply(self, why, why_len, bad); /* the state just before this record */
    if (rc == 0 && e->kind == ENVELOPE_REASSIGN)
        rc = s_check_reassign(self, pos, rec, e, why, why_len, bad);
    if (rc == 0 && is_assign && !self->in_round)
        rc = s_round_start(self, pos, basis, why, why_len, bad);
    if (rc == 0 && is_assign)
        rc = s_check_assign(self, pos, e, why, why_len, bad);
    if (rc != 0)
        return rc;
    self->recs[self->n] = *rec;
    self->envs[self->n] = *e;
    if (++self->n == S_BATCH)
        return s_apply(self, why, why_len, bad);
    return 0;
}

static int
s_flush(void *ctx, int final, char *why, size_t why_len, int64_t *bad, int64_t *related)
{
    audit_rules_t *self = ctx;
    (void) related;
    if (self->failed || !self->scratch)
        return 0;
    int rc = s_apply(self, why, why_len, bad);
    if (rc == 0 && final && self->in_round)
        rc = s_round_end(self, why, why_len, bad);
    return rc;
}

int
audit_rules_new(audit_rules_t **out, const audit_rules_options_t *opts)
{
    if (!out)
        return COFAB_EINVAL;
    *out = NULL;
    audit_rules_t *self = calloc(1, sizeof *self);
    if (!self)
        return COFAB_ENOMEM;
    self->replay = opts ? opts->replay : 0;
    self->hook = (audit_hook_t){self, s_record, s_flush};
    self->recs = calloc(S_BATCH, sizeof *self->recs);
    self->envs = calloc(S_BATCH, sizeof *self->envs);
    self->res = calloc(S_BATCH, sizeof *self->res);
    self->got = malloc(sizeof *self->got);
    self->want = malloc(sizeof *self->want);
    self->cache = match_input_cache_new();
    int rc = self->recs && self->envs && self->res && self->got && self->want && self->cache
                 ? 0
                 : COFAB_ENOMEM;
    if (rc == 0)
        rc = util_make_temp_dir(opts ? opts->scratch_parent : NULL, "cofab-audit", self->dir,
                                sizeof self->dir);
    if (rc != 0) {
        audit_rules_destroy(&self);
        return rc;
    }
    self->dir_made = 1;
    *out = self;
    return 0;
}


void
audit_rules_destroy(audit_rules_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    audit_rules_t *self = *self_p;
    s_round_clear(self);
    ledger_destroy(&self->scratch);
    if (self->dir_made)
        util_remove_tree(self->dir);
    free(self->recs);
    free(self->envs);
    free(self->res);
    free(self->got);
    free(self->want);
    match_input_cache_destroy(&self->cache);
    free(self);
    *self_p = NULL;
}

const audit_hook_t *
audit_rules_hook(audit_rules_t *self)
{
    return self ? &self->hook : NULL;
}

static int
s_count_order(void *ctx, const uint8_t id[32])
{
    audit_rules_t *self = ((void **) ctx)[0];
    audit_rules_summary_t *out = ((void **) ctx)[1];
    policy_order_t o;
    int rc = policy_order(self->scratch, id, &o);
    if (rc != 0)
        return rc;
    out->orders++;
    if (o.state <= POLICY_DECLINED)
        out->by_state[o.state]++;
    return 0;
}

static int
s_add_factory(void *ctx, const uint8_t key[32])
{
    audit_rules_t *self = ((void **) ctx)[0];
    audit_rules_summary_t *out = ((void **) ctx)[1];
    if (out->nfactories == AUDIT_RULES_MAX_FACTORIES)
        return 0;
    audit_rules_factory_t *f = &out->factories[out->nfactories++];
    memcpy(f->key, key, 32);
    s_name(self, key, f->name, sizeof f->name);
    return policy_reliability(self->scratch, key, &f->r);
}

int
audit_rules_summary(audit_rules_t *self, audit_rules_summary_t *out)
{
    if (!self || !out)
        return COFAB_EINVAL;
    memset(out, 0, sizeof *out);
    if (!self->scratch)
        return COFAB_ENOTFOUND;
    out->rounds = self->rounds;
    out->assigns = self->assigns;
    out->reassigns = self->reassigns;
    void *ctx[2] = {self, out};
    int rc = policy_orders(self->scratch, s_count_order, ctx);
    if (rc == 0)
        rc = policy_factories(self->scratch, s_add_factory, ctx);
    return rc;
}
