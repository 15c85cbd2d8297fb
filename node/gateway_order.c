/* gateway_order.c — an order read from the ledger with its proofs, in words, and as /api/orders/<id> JSON. */
#include "gateway_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cmd_audit_internal.h"
#include "cofab/cli.h"
#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/policy.h"

/* Parses exactly 64 hex digits (either case). */
static int
s_parse_id(const char *text, uint8_t id[32], char hex[65])
{
    if (strlen(text) != 64)
        return COFAB_ENOTFOUND;
    for (size_t i = 0; i < 64; i++)
        if (!strchr("0123456789abcdefABCDEF", text[i]))
            return COFAB_ENOTFOUND;
    size_t bin = 0;
    if (sodium_hex2bin(id, 32, text, 64, NULL, &bin, NULL) != 0 || bin != 32)
        return COFAB_ENOTFOUND;
    sodium_bin2hex(hex, 65, id, 32);
    return 0;
}

/* A member's name (from the ledger's membership), else a short key id. */
static void
s_name(ledger_t *l, const gateway_t *gw, const uint8_t pk[32], char *out, size_t max)
{
    policy_member_t m;
    if (sodium_memcmp(pk, gw->trust.hub.pk, 32) == 0)
        snprintf(out, max, "the alliance hub");
    else if (policy_member(l, pk, &m) == 0 && m.name[0])
        snprintf(out, max, "%s", m.name);
    else {
        char hex[17];
        sodium_bin2hex(hex, sizeof hex, pk, 8);
        snprintf(out, max, "key %s", hex);
    }
}

static void
s_cat(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends to a GW_DETAIL_MAX buffer. A cut never splits a UTF-8
 * character (the text goes into JSON, which must be valid UTF-8). */
static void
s_cat(char *out, const char *fmt, ...)
{
    size_t used = strlen(out);
    if (used + 1 >= GW_DETAIL_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + used, GW_DETAIL_MAX - used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n < GW_DETAIL_MAX - used)
        return;
    size_t len = GW_DETAIL_MAX - 1, lead = len;
    while (lead > 0 && ((unsigned char) out[lead - 1] & 0xC0) == 0x80)
        lead--; /* back over continuation bytes to the character's first byte */
    if (lead > 0 && (unsigned char) out[lead - 1] >= 0xC0) {
        unsigned char b = (unsigned char) out[lead - 1];
        size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
        if (len - (lead - 1) < need)
            out[lead - 1] = '\0'; /* the last character was cut: drop it */
    }
}

/* Appends "A and B": the distinct factories of an assignment. */
static void
s_piece_names(ledger_t *l, const gateway_t *gw, const payload_assign_t *a, char *out, size_t max)
{
    int first = 1;
    for (uint32_t i = 0; i < a->npieces; i++) {
        int dup = 0;
        for (uint32_t j = 0; j < i; j++)
            dup |= sodium_memcmp(a->pieces[j].factory, a->pieces[i].factory, 32) == 0;
        if (dup)
            continue;
        char who[NOTE_MAX_NAME + 32];
        s_name(l, gw, a->pieces[i].factory, who, sizeof who);
        size_t used = strlen(out);
        if (snprintf(out + used, max - used, "%s%s", first ? "" : " and ", who) < 0)
            break;
        first = 0;
    }
}

/* Words for one record; fills ev->event and ev->detail. */
static void
s_describe(ledger_t *l, const gateway_t *gw, const envelope_t *e, gw_event_t *ev,
           payload_assign_t *assign)
{
    union {
        payload_order_t order;
        payload_decline_t decline;
        payload_status_t status;
        payload_cancel_t cancel;
        payload_reassign_t reassign;
    } p;
    char who[NOTE_MAX_NAME + 32], d1[16], d2[16];
    ev->detail[0] = '\0';
    s_name(l, gw, e->author, who, sizeof who);
    snprintf(ev->event, sizeof ev->event, "%s",
             envelope_kind_name(e->kind) ? envelope_kind_name(e->kind) : "Record");
    switch (e->kind) {
    case ENVELOPE_ORDER:
        snprintf(ev->event, sizeof ev->event, "Order placed");
        if (payload_order_decode(&p.order, e->payload, e->payload_len) != 0)
            break;
        for (uint32_t i = 0; i < p.order.nitems; i++)
            s_cat(ev->detail, "%s%lld \u00d7 %s (%s)", i ? ", " : "",
                  (long long) p.order.items[i].qty, p.order.items[i].process,
                  p.order.items[i].material);
        gw_day_text(p.order.due_day, d1);
        s_cat(ev->detail, ", due %s", d1);
        break;
    case ENVELOPE_ASSIGN:
        snprintf(ev->event, sizeof ev->event, "Assigned");
        if (payload_assign_decode(assign, e->payload, e->payload_len) != 0)
            break;
        snprintf(ev->event, sizeof ev->event, "Assigned to ");
        s_piece_names(l, gw, assign, ev->event, sizeof ev->event);
        for (uint32_t i = 0; i < assign->npieces; i++) {
            const payload_piece_t *pc = &assign->pieces[i];
            s_name(l, gw, pc->factory, who, sizeof who);
            gw_day_text(pc->first_day, d1);
            gw_day_text(pc->last_day, d2);
            s_cat(ev->detail, "%s%lld \u00d7 %s (%s) at %s, made %s%s%s", i ? "; " : "",
                  (long long) pc->qty, pc->process, pc->material, who,
                  strcmp(d1, d2) ? "from " : "on ", d1, strcmp(d1, d2) ? " to " : "");
            if (strcmp(d1, d2))
                s_cat(ev->detail, "%s", d2);
        }
        break;
    case ENVELOPE_ACCEPT:
        snprintf(ev->event, sizeof ev->event, "Accepted by %s", who);
        break;
    case ENVELOPE_DECLINE:
        snprintf(ev->event, sizeof ev->event, "Declined by %s", who);
        if (payload_decline_decode(&p.decline, e->payload, e->payload_len) == 0)
            s_cat(ev->detail, "Reason: %s", p.decline.reason);
        break;
    case ENVELOPE_STATUS: {
        static const char *const stages[] = {"Progress report by", "In production at",
                                             "Quality check passed at", "Shipped by",
                                             "Delivered by"};
        int st = payload_status_decode(&p.status, e->payload, e->payload_len) == 0 &&
                         p.status.stage >= 1 && p.status.stage <= 4
                     ? (int) p.status.stage
                     : 0;
        snprintf(ev->event, sizeof ev->event, "%s %s", stages[st], who);
        if (st && p.status.has_attachment) {
            char hex[65];
            cli_hex32(p.status.attachment, hex);
            s_cat(ev->detail, "Document sha256 %s", hex);
        }
        break;
    }
    case ENVELOPE_CANCEL:
        snprintf(ev->event, sizeof ev->event, "Cancelled by the customer");
        if (payload_cancel_decode(&p.cancel, e->payload, e->payload_len) == 0 &&
            p.cancel.reason[0])
            s_cat(ev->detail, "Reason: %s", p.cancel.reason);
        break;
    case ENVELOPE_REASSIGN:
        snprintf(ev->event, sizeof ev->event, "Reassigned");
        if (payload_reassign_decode(&p.reassign, e->payload, e->payload_len) == 0) {
            static const char *const why[] = {"", "the factory declined", "no answer in time",
                                              "the factory was unreachable",
                                              "the factory left the alliance"};
            s_name(l, gw, p.reassign.factory, who, sizeof who);
            if (p.reassign.why >= 1 && p.reassign.why <= 4)
                snprintf(ev->event, sizeof ev->event, "Reassigned: %s", why[p.reassign.why]);
            s_cat(ev->detail, "Back to matching, without %s", who);
        }
        break;
    default:
        break;
    }
}

/* The order's current factories, by name. */
static void
s_factories(ledger_t *l, const gateway_t *gw, const policy_order_t *po, char *out)
{
    out[0] = '\0';
    for (unsigned i = 0; i < po->nfactories && i < POLICY_MAX_FACTORIES; i++) {
        char who[NOTE_MAX_NAME + 32];
        s_name(l, gw, po->factories[i], who, sizeof who);
        s_cat(out, "%s%s", i ? ", " : "", who);
    }
}

/* One record: bytes, words, and its proof when the checkpoint covers it. */
static int
s_event(ledger_t *l, const gateway_t *gw, gw_order_t *o, uint64_t seq, gw_event_t *ev,
        payload_assign_t *scratch)
{
    ledger_record_t rec;
    envelope_t e;
    ev->position = seq;
    int rc = ledger_get(l, seq, &ev->record, &ev->record_len);
    if (rc == 0)
        rc = ledger_record_decode(&rec, ev->record, ev->record_len);
    if (rc == 0)
        rc = envelope_decode(&e, rec.envelope, rec.envelope_len);
    if (rc != 0)
        return rc == COFAB_ENOTFOUND ? COFAB_ESTORE : rc; /* the index names it: it must be there */
    ev->time_ms = rec.time_ms;
    ev->kind = e.kind;
    if (o->n == 0 && e.kind == ENVELOPE_ORDER &&
        payload_order_decode(&o->order, e.payload, e.payload_len) != 0)
        memset(&o->order, 0, sizeof o->order);
    s_describe(l, gw, &e, ev, scratch);
    if (!o->has_cp || seq >= o->cp.cp.size)
        return 0;
    uint8_t(*proof)[MERKLE_HASH_LEN] = malloc(MERKLE_MAX_PROOF * MERKLE_HASH_LEN);
    if (!proof)
        return COFAB_ENOMEM;
    rc = ledger_inclusion_proof(l, seq, o->cp.cp.size, proof, &ev->k);
    if (rc != 0) {
        free(proof);
        return rc;
    }
    ev->proof = (uint8_t *) proof;
    uint8_t leaf[MERKLE_HASH_LEN];
    merkle_leaf_hash(ev->record, ev->record_len, leaf);
    ev->proven = merkle_verify_inclusion(seq, o->cp.cp.size, leaf,
                                         (const uint8_t(*)[MERKLE_HASH_LEN]) proof, ev->k,
                                         o->cp.cp.root) == 0;
    if (ev->proven)
        o->proven++;
    else
        o->bad_proof = 1;
    return 0;
}

/* Reads the order with one borrow of the ledger. COFAB_ERANGE: the borrow
 * is behind the latest checkpoint (the caller reopens and retries). */
static int
s_load(gateway_t *gw, ledger_t *l, const uint8_t id[32], gw_order_t *o, uint64_t *seqs)
{
    size_t n = 0;
    int rc = gw_checkpoint(gw, l, o->note, &o->cp);
    o->has_cp = rc == 0;
    if (rc == COFAB_ENOTFOUND)
        o->note[0] = '\0';
    else if (rc != 0)
        return rc;
    rc = ledger_subject_records(l, id, 0, seqs, GATEWAY_ORDER_RECORDS, &n);
    if (rc != 0)
        return rc;
    if (n == 0)
        return COFAB_ENOTFOUND;
    o->events = calloc(n, sizeof *o->events);
    payload_assign_t *scratch = malloc(sizeof *scratch);
    policy_order_t po;
    if (!o->events || !scratch) {
        free(scratch);
        return COFAB_ENOMEM;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = s_event(l, gw, o, seqs[i], &o->events[o->n], scratch);
        if (rc == 0 && o->n == 0 && o->events[0].kind != ENVELOPE_ORDER)
            rc = COFAB_ENOTFOUND; /* a member key's records, not an order's */
        o->n++; /* counted even on failure: s_events_free() frees what it holds */
    }
    free(scratch);
    if (rc == 0)
        rc = policy_order(l, id, &po);
    if (rc == 0) {
        o->state = po.state;
        s_factories(l, gw, &po, o->factories);
    }
    return rc;
}

static void
s_events_free(gw_order_t *o)
{
    for (size_t i = 0; o->events && i < o->n; i++) {
        free(o->events[i].record);
        free(o->events[i].proof);
    }
    free(o->events);
    o->events = NULL;
    o->n = 0;
    o->proven = 0;
    o->bad_proof = 0;
}

int
gw_order_load(gateway_t *gw, const char *text, gw_order_t **out)
{
    uint8_t id[32];
    *out = NULL;
    gw_order_t *o = calloc(1, sizeof *o);
    uint64_t *seqs = malloc(GATEWAY_ORDER_RECORDS * sizeof *seqs);
    int rc = o && seqs ? s_parse_id(text, id, o->hex) : COFAB_ENOMEM;
    /* Twice at most: a reopen catches up with a newer checkpoint. */
    for (int attempt = 0; rc == 0 && attempt < 2; attempt++) {
        ledger_t *l = gw_ledger_get(gw, 0);
        rc = l ? s_load(gw, l, id, o, seqs) : COFAB_ESTORE;
        if (l)
            gw_ledger_put(gw);
        if (rc == COFAB_ERANGE || rc == COFAB_ESTORE) {
            gw_ledger_stale(gw);
            s_events_free(o);
            if (attempt == 0)
                rc = 0;
            continue;
        }
        break;
    }
    free(seqs);
    if (rc != 0) {
        gw_order_free(&o);
        return rc;
    }
    o->verified = o->has_cp && o->cp.witnessed && o->proven > 0 && !o->bad_proof;
    *out = o;
    return 0;
}

void
gw_order_free(gw_order_t **o_p)
{
    if (!o_p || !*o_p)
        return;
    s_events_free(*o_p);
    free(*o_p);
    *o_p = NULL;
}

/* ---------- JSON ---------- */

static json_t *
s_b64(const uint8_t *data, size_t len)
{
    char *b = cli_b64(data, len);
    json_t *s = json_string(b ? b : "");
    free(b);
    return s;
}

static json_t *
s_key(const note_verifier_t *v)
{
    return json_pack("{ss so}", "name", v->name, "key", s_b64(v->pk, 32));
}

/* What the page's script needs to check the proofs on its own. */
static json_t *
s_proof_doc(const gateway_t *gw, const gw_order_t *o, int all)
{
    json_t *entries = json_array(), *witnesses = json_array();
    for (size_t i = 0; i < o->n; i++) {
        const gw_event_t *ev = &o->events[i];
        if (!all && !ev->proof)
            continue;
        json_array_append_new(entries,
                              json_pack("{sI so so}", "index", (json_int_t) ev->position,
                                        "record", s_b64(ev->record, ev->record_len), "proof",
                                        ev->proof ? cmd_audit_proof_json(ev->proof, ev->k)
                                                  : json_null()));
    }
    for (uint32_t i = 0; i < gw->trust.witnesses.n; i++)
        json_array_append_new(witnesses, s_key(&gw->trust.witnesses.witnesses[i]));
    return json_pack("{ss sI so so so sI sI so}", "checkpoint", o->note, "size",
                     (json_int_t) (o->has_cp ? o->cp.cp.size : 0), "root",
                     o->has_cp ? s_b64(o->cp.cp.root, 32) : json_null(), "hub",
                     s_key(&gw->trust.hub), "witnesses", witnesses, "quorum",
                     (json_int_t) gw->trust.witnesses.quorum, "records", (json_int_t) o->n,
                     "entries", entries);
}

char *
gw_order_proof_json(const gateway_t *gw, const gw_order_t *o)
{
    json_t *doc = s_proof_doc(gw, o, 0);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ESCAPE_SLASH) : NULL;
    json_decref(doc);
    return text;
}

static json_t *
s_order_json(const gateway_t *gw, const gw_order_t *o)
{
    char day[16], when[32];
    json_t *items = json_array(), *events = json_array();
    for (uint32_t i = 0; i < o->order.nitems; i++)
        json_array_append_new(items, json_pack("{ss ss sI}", "process", o->order.items[i].process,
                                               "material", o->order.items[i].material, "qty",
                                               (json_int_t) o->order.items[i].qty));
    for (size_t i = 0; i < o->n; i++) {
        const gw_event_t *ev = &o->events[i];
        gw_time_text(ev->time_ms, when);
        json_array_append_new(
            events, json_pack("{sI ss sI ss ss ss sb}", "position", (json_int_t) ev->position,
                              "time", when, "time_ms", (json_int_t) ev->time_ms, "kind",
                              envelope_kind_name(ev->kind) ? envelope_kind_name(ev->kind) : "?",
                              "event", ev->event, "detail", ev->detail, "checkpointed",
                              ev->proof != NULL));
    }
    gw_day_text(o->order.due_day, day);
    json_t *doc = json_pack(
        "{ss ss ss ss ss ss so so s{sb sI sI sI sI sb sI sI} so}", "order", o->hex, "title",
        o->order.title, "state", policy_state_name(o->state), "status", gw_state_text(o->state),
        "due_day", day, "factories", o->factories, "items", items, "events", events,
        "verification", "verified", o->verified, "checkpoint_size",
        (json_int_t) (o->has_cp ? o->cp.cp.size : 0), "cosignatures",
        (json_int_t) o->cp.cosigned, "quorum", (json_int_t) gw->trust.witnesses.quorum,
        "witnesses", (json_int_t) gw->trust.witnesses.n, "hub_signed", o->cp.hub_signed,
        "proven", (json_int_t) o->proven, "not_checkpointed",
        (json_int_t) (o->n - o->proven), "proofs", s_proof_doc(gw, o, 1));
    return doc;
}

void
gw_order_api(gateway_t *gw, const char *id, gw_reply_t *r)
{
    gw_order_t *o = NULL;
    int rc = gw_order_load(gw, id, &o);
    if (rc != 0) {
        gw_reply_text(r, rc == COFAB_ENOTFOUND ? 404 : 503,
                      rc == COFAB_ENOTFOUND ? "not found\n" : "unavailable\n");
        return;
    }
    json_t *doc = s_order_json(gw, o);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    if (!text) {
        gw_reply_text(r, 503, "out of memory\n");
    } else {
        r->status = 200;
        r->type = "application/json";
        r->cache = "no-cache";
        gw_buf_cat(&r->body, text);
        gw_buf_cat(&r->body, "\n");
    }
    free(text);
    json_decref(doc);
    gw_order_free(&o);
}
