/* payload_work.c — membership-change and work-flow payloads: capacity, order, assign ... reassign. */
#include "cofab/payload.h"

#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "cofab/envelope.h"
#include "cofab/error.h"
#include "payload_internal.h"

/* ---- Enum names ---------------------------------------------------------- */

static const char *const s_roles[] = {NULL, "factory", "witness", "customer"};
static const char *const s_customers[] = {NULL, "open", "listed"};
static const char *const s_stages[] = {NULL, "in-production", "qc-passed", "shipped", "delivered"};
static const char *const s_whys[] = {NULL, "declined", "timeout", "unreachable", "removed"};

#define S_COUNT(a) ((int) (sizeof(a) / sizeof(a)[0]))

static const char *
s_name(const char *const *names, int n, int v)
{
    return v >= 1 && v < n ? names[v] : NULL;
}

static int
s_parse(const char *const *names, int n, const char *name)
{
    if (!name)
        return COFAB_EINVAL;
    for (int v = 1; v < n; v++)
        if (strcmp(names[v], name) == 0)
            return v;
    return COFAB_EMALFORMED;
}

const char *payload_role_name(int v) { return s_name(s_roles, S_COUNT(s_roles), v); }
const char *payload_customers_name(int v) { return s_name(s_customers, S_COUNT(s_customers), v); }
const char *payload_stage_name(int v) { return s_name(s_stages, S_COUNT(s_stages), v); }
const char *payload_why_name(int v) { return s_name(s_whys, S_COUNT(s_whys), v); }
int payload_role_parse(const char *s) { return s_parse(s_roles, S_COUNT(s_roles), s); }
int payload_customers_parse(const char *s) { return s_parse(s_customers, S_COUNT(s_customers), s); }
int payload_stage_parse(const char *s) { return s_parse(s_stages, S_COUNT(s_stages), s); }
int payload_why_parse(const char *s) { return s_parse(s_whys, S_COUNT(s_whys), s); }

/* Free text of 0..max bytes (empty = absent) or min..max when required. */
static int
s_text_ok(const char *s, size_t size, size_t min, size_t max)
{
    return payload_text_ok(s, size, PAYLOAD_CS_TEXT, min, max);
}

static int
s_name_ok(const char *s)
{
    return payload_text_ok(s, PAYLOAD_NAME_MAX + 1, PAYLOAD_CS_NAME, 1, PAYLOAD_NAME_MAX);
}

static int
s_latlon_ok(int32_t lat, int32_t lon)
{
    return lat >= -90000000 && lat <= 90000000 && lon >= -180000000 && lon <= 180000000;
}

/* An optional text field: written only when non-empty. */
static void
s_opt_text_write(payload_wr_t *w, const char *key, const char *s)
{
    if (s[0])
        payload_wr_text(w, key, s);
}

static void
s_opt_text_read(payload_rd_t *r, const char *key, char *out, size_t size)
{
    if (payload_rd_has(r, key))
        payload_rd_text(r, key, out, size);
}

/* A uint32 (epoch day, count) field. */
static uint32_t
s_rd_u32(payload_rd_t *r, const char *key)
{
    return (uint32_t) payload_rd_int(r, key, 0, UINT32_MAX);
}

static int32_t
s_rd_i32(payload_rd_t *r, const char *key)
{
    return (int32_t) payload_rd_int(r, key, INT32_MIN, INT32_MAX);
}

/* ---- Members ------------------------------------------------------------- */

int
payload_member_check(const payload_member_t *m)
{
    int rc = payload_verifier_check(&m->key);
    if (rc == 0 && !payload_role_name((int) m->role))
        rc = COFAB_EMALFORMED;
    return rc;
}

void
payload_member_write(payload_wr_t *w, const payload_member_t *m)
{
    payload_wr_text(w, "name", m->key.name);
    payload_wr_verifier(w, "key", &m->key);
    payload_wr_bytes(w, "transport", m->transport, 32);
    payload_wr_text(w, "role", payload_role_name((int) m->role));
}

void
payload_member_read(payload_rd_t *r, payload_member_t *m)
{
    char name[NOTE_MAX_NAME + 1];
    payload_rd_text(r, "name", name, sizeof name);
    payload_rd_verifier(r, "key", &m->key);
    payload_rd_bytes(r, "transport", m->transport, 32);
    m->role = (payload_role_t) payload_rd_enum(r, "role", payload_role_parse);
    if (r->rc == 0 && !payload_text_ok(name, sizeof name, PAYLOAD_CS_KEYNAME, 1, NOTE_MAX_NAME))
        r->rc = COFAB_EMALFORMED;
    if (r->rc == 0 && strcmp(name, m->key.name) != 0)
        r->rc = COFAB_EKEYMISMATCH;
}

static int s_member_check(const void *x) { return payload_member_check(x); }
static void s_member_write(payload_wr_t *w, const void *x) { payload_member_write(w, x); }
static void s_member_read(payload_rd_t *r, void *x) { payload_member_read(r, x); }

int
payload_member_add_encode(const payload_member_t *m, uint8_t **out, size_t *len)
{
    return payload_encode_with(m, s_member_check, 4, s_member_write, out, len);
}

int
payload_member_add_decode(payload_member_t *m, const uint8_t *data, size_t len)
{
    return payload_decode_with(m, sizeof *m, data, len, s_member_read, s_member_check);
}

static int
s_member_remove_check(const void *x)
{
    const payload_member_remove_t *m = x;
    return s_text_ok(m->reason, sizeof m->reason, 0, PAYLOAD_MAX_TEXT) ? 0 : COFAB_EMALFORMED;
}

static void
s_member_remove_write(payload_wr_t *w, const void *x)
{
    const payload_member_remove_t *m = x;
    payload_wr_bytes(w, "key", m->key, 32);
    s_opt_text_write(w, "reason", m->reason);
}

static void
s_member_remove_read(payload_rd_t *r, void *x)
{
    payload_member_remove_t *m = x;
    payload_rd_bytes(r, "key", m->key, 32);
    s_opt_text_read(r, "reason", m->reason, sizeof m->reason);
}

int
payload_member_remove_encode(const payload_member_remove_t *m, uint8_t **out, size_t *len)
{
    return payload_encode_with(m, s_member_remove_check, 2, s_member_remove_write, out, len);
}

int
payload_member_remove_decode(payload_member_remove_t *m, const uint8_t *data, size_t len)
{
    return payload_decode_with(m, sizeof *m, data, len, s_member_remove_read,
                               s_member_remove_check);
}

/* ---- Capacity ------------------------------------------------------------ */

static int
s_offer_ok(const payload_offer_t *of)
{
    if (!s_name_ok(of->process) || of->nmaterials < 1 || of->nmaterials > PAYLOAD_MAX_MATERIALS ||
        of->unit_price < 0 || of->unit_price > MATCHER_MAX_PRICE || of->setup_cost < 0 ||
        of->setup_cost > MATCHER_MAX_SETUP || of->moq < 1 || of->moq > MATCHER_MAX_QTY ||
        of->max_qty < of->moq || of->max_qty > MATCHER_MAX_QTY || of->ncap < 1 ||
        of->ncap > PAYLOAD_MAX_DAYS)
        return 0;
    for (uint32_t m = 0; m < of->nmaterials; m++) {
        if (!s_name_ok(of->materials[m]))
            return 0;
        for (uint32_t k = 0; k < m; k++)
            if (strcmp(of->materials[k], of->materials[m]) == 0)
                return 0;
    }
    for (uint32_t d = 0; d < of->ncap; d++)
        if (of->cap[d] < 0 || of->cap[d] > MATCHER_MAX_CAP)
            return 0;
    return 1;
}

static int
s_capacity_check(const void *x)
{
    const payload_capacity_t *c = x;
    if (c->valid_until_day < c->start_day || c->lead_days < 0 ||
        c->lead_days > MATCHER_MAX_LEAD || !s_latlon_ok(c->lat_e6, c->lon_e6) ||
        c->reserve_pm < -1 || c->reserve_pm > 1000 ||
        !s_text_ok(c->location, sizeof c->location, 0, PAYLOAD_MAX_LOCATION) || c->noffers < 1 ||
        c->noffers > PAYLOAD_MAX_OFFERS)
        return COFAB_EMALFORMED;
    for (uint32_t o = 0; o < c->noffers; o++) {
        if (!s_offer_ok(&c->offers[o]))
            return COFAB_EMALFORMED;
        for (uint32_t k = 0; k < o; k++)
            if (strcmp(c->offers[k].process, c->offers[o].process) == 0)
                return COFAB_EMALFORMED;
    }
    return 0;
}

/* A new map item for one offer, or NULL (out of memory). */
static cbor_item_t *
s_offer_build(const payload_offer_t *of)
{
    payload_wr_t w;
    payload_wr_begin(&w, 7);
    payload_wr_text(&w, "process", of->process);
    cbor_item_t *mats = w.rc == 0 ? cbor_new_definite_array(of->nmaterials) : NULL;
    for (uint32_t m = 0; mats && m < of->nmaterials && w.rc == 0; m++)
        w.rc = payload_wr_push(mats, cbor_build_string(of->materials[m]));
    payload_wr_put(&w, "materials", mats);
    payload_wr_int(&w, "unit_price", of->unit_price);
    payload_wr_int(&w, "setup_cost", of->setup_cost);
    payload_wr_int(&w, "moq", of->moq);
    payload_wr_int(&w, "max_qty", of->max_qty);
    cbor_item_t *cap = w.rc == 0 ? cbor_new_definite_array(of->ncap) : NULL;
    for (uint32_t d = 0; cap && d < of->ncap && w.rc == 0; d++)
        w.rc = payload_wr_push(cap, payload_wr_int_item(of->cap[d]));
    payload_wr_put(&w, "cap", cap);
    return payload_wr_end(&w);
}

static void
s_capacity_write(payload_wr_t *w, const void *x)
{
    const payload_capacity_t *c = x;
    payload_wr_int(w, "start_day", c->start_day);
    payload_wr_int(w, "valid_until_day", c->valid_until_day);
    payload_wr_int(w, "lead_days", c->lead_days);
    payload_wr_int(w, "lat_e6", c->lat_e6);
    payload_wr_int(w, "lon_e6", c->lon_e6);
    payload_wr_int(w, "reserve_pm", c->reserve_pm);
    s_opt_text_write(w, "location", c->location);
    cbor_item_t *offers = w->rc == 0 ? cbor_new_definite_array(c->noffers) : NULL;
    for (uint32_t o = 0; offers && o < c->noffers && w->rc == 0; o++)
        w->rc = payload_wr_push(offers, s_offer_build(&c->offers[o]));
    payload_wr_put(w, "offers", offers);
}

static void
s_offer_read(payload_rd_t *r, payload_offer_t *of)
{
    size_t n = 0;
    payload_rd_text(r, "process", of->process, sizeof of->process);
    cbor_item_t **mats = payload_rd_array(r, "materials", 1, PAYLOAD_MAX_MATERIALS, &n);
    for (size_t m = 0; m < n; m++)
        payload_rd_text_item(r, mats[m], of->materials[m], sizeof of->materials[m]);
    of->nmaterials = (uint32_t) n;
    of->unit_price = payload_rd_int(r, "unit_price", INT64_MIN, INT64_MAX);
    of->setup_cost = payload_rd_int(r, "setup_cost", INT64_MIN, INT64_MAX);
    of->moq = payload_rd_int(r, "moq", INT64_MIN, INT64_MAX);
    of->max_qty = payload_rd_int(r, "max_qty", INT64_MIN, INT64_MAX);
    cbor_item_t **cap = payload_rd_array(r, "cap", 1, PAYLOAD_MAX_DAYS, &n);
    for (size_t d = 0; d < n; d++)
        of->cap[d] = payload_rd_int_item(r, cap[d], 0, INT64_MAX);
    of->ncap = (uint32_t) n;
}

static void
s_capacity_read(payload_rd_t *r, void *x)
{
    payload_capacity_t *c = x;
    c->start_day = s_rd_u32(r, "start_day");
    c->valid_until_day = s_rd_u32(r, "valid_until_day");
    c->lead_days = s_rd_i32(r, "lead_days");
    c->lat_e6 = s_rd_i32(r, "lat_e6");
    c->lon_e6 = s_rd_i32(r, "lon_e6");
    c->reserve_pm = s_rd_i32(r, "reserve_pm");
    s_opt_text_read(r, "location", c->location, sizeof c->location);
    /* Reliability is the hub's to compute from the ledger, never declared. */
    if (payload_rd_has(r, "reliability") && r->rc == 0)
        r->rc = COFAB_EMALFORMED;
    size_t n = 0;
    cbor_item_t **offers = payload_rd_array(r, "offers", 1, PAYLOAD_MAX_OFFERS, &n);
    for (size_t o = 0; o < n && r->rc == 0; o++) {
        payload_rd_t orr;
        payload_rd_open(&orr, offers[o]);
        s_offer_read(&orr, &c->offers[o]);
        r->rc = orr.rc;
    }
    c->noffers = (uint32_t) n;
}

int
payload_capacity_encode(const payload_capacity_t *c, uint8_t **out, size_t *len)
{
    return payload_encode_with(c, s_capacity_check, 8, s_capacity_write, out, len);
}

int
payload_capacity_decode(payload_capacity_t *c, const uint8_t *data, size_t len)
{
    return payload_decode_with(c, sizeof *c, data, len, s_capacity_read, s_capacity_check);
}

/* ---- Order --------------------------------------------------------------- */

static int
s_order_check(const void *x)
{
    const payload_order_t *o = x;
    if (o->nitems < 1 || o->nitems > PAYLOAD_MAX_ITEMS || !s_latlon_ok(o->lat_e6, o->lon_e6) ||
        o->budget < 0 || o->budget > MATCHER_MAX_BUDGET || (o->split != 0 && o->split != 1) ||
        !s_text_ok(o->title, sizeof o->title, 0, PAYLOAD_MAX_TITLE))
        return COFAB_EMALFORMED;
    for (uint32_t i = 0; i < o->nitems; i++) {
        const matcher_item_t *it = &o->items[i];
        if (!s_name_ok(it->process) || !s_name_ok(it->material) || it->qty < 1 ||
            it->qty > MATCHER_MAX_QTY)
            return COFAB_EMALFORMED;
        for (uint32_t k = 0; k < i; k++)
            if (!strcmp(o->items[k].process, it->process) &&
                !strcmp(o->items[k].material, it->material))
                return COFAB_EMALFORMED;
    }
    return 0;
}

static void
s_order_write(payload_wr_t *w, const void *x)
{
    const payload_order_t *o = x;
    cbor_item_t *items = w->rc == 0 ? cbor_new_definite_array(o->nitems) : NULL;
    for (uint32_t i = 0; items && i < o->nitems && w->rc == 0; i++) {
        payload_wr_t iw;
        payload_wr_begin(&iw, 3);
        payload_wr_text(&iw, "process", o->items[i].process);
        payload_wr_text(&iw, "material", o->items[i].material);
        payload_wr_int(&iw, "qty", o->items[i].qty);
        w->rc = payload_wr_push(items, payload_wr_end(&iw));
    }
    payload_wr_put(w, "items", items);
    payload_wr_int(w, "due_day", o->due_day);
    payload_wr_int(w, "lat_e6", o->lat_e6);
    payload_wr_int(w, "lon_e6", o->lon_e6);
    payload_wr_int(w, "budget", o->budget);
    payload_wr_bool(w, "split", o->split);
    s_opt_text_write(w, "title", o->title);
}

static void
s_order_read(payload_rd_t *r, void *x)
{
    payload_order_t *o = x;
    size_t n = 0;
    cbor_item_t **items = payload_rd_array(r, "items", 1, PAYLOAD_MAX_ITEMS, &n);
    for (size_t i = 0; i < n && r->rc == 0; i++) {
        payload_rd_t ir;
        payload_rd_open(&ir, items[i]);
        payload_rd_text(&ir, "process", o->items[i].process, sizeof o->items[i].process);
        payload_rd_text(&ir, "material", o->items[i].material, sizeof o->items[i].material);
        o->items[i].qty = payload_rd_int(&ir, "qty", INT64_MIN, INT64_MAX);
        r->rc = ir.rc;
    }
    o->nitems = (uint32_t) n;
    o->due_day = s_rd_u32(r, "due_day");
    o->lat_e6 = s_rd_i32(r, "lat_e6");
    o->lon_e6 = s_rd_i32(r, "lon_e6");
    o->budget = payload_rd_int(r, "budget", 0, INT64_MAX);
    o->split = payload_rd_bool(r, "split");
    s_opt_text_read(r, "title", o->title, sizeof o->title);
}

int
payload_order_encode(const payload_order_t *o, uint8_t **out, size_t *len)
{
    return payload_encode_with(o, s_order_check, 7, s_order_write, out, len);
}

int
payload_order_decode(payload_order_t *o, const uint8_t *data, size_t len)
{
    return payload_decode_with(o, sizeof *o, data, len, s_order_read, s_order_check);
}

/* ---- Assign -------------------------------------------------------------- */

static int
s_assign_check(const void *x)
{
    const payload_assign_t *a = x;
    if (a->npieces < 1 || a->npieces > PAYLOAD_MAX_PIECES ||
        (a->has_runner_up != 0 && a->has_runner_up != 1))
        return COFAB_EMALFORMED;
    for (uint32_t i = 0; i < a->npieces; i++) {
        const payload_piece_t *p = &a->pieces[i];
        if (!s_name_ok(p->process) || !s_name_ok(p->material) || p->qty < 1 ||
            p->qty > MATCHER_MAX_QTY || p->first_day > p->last_day ||
            p->cost < -MATCHER_MAX_BUDGET || p->cost > MATCHER_MAX_BUDGET)
            return COFAB_EMALFORMED;
    }
    return 0;
}

static void
s_assign_write(payload_wr_t *w, const void *x)
{
    const payload_assign_t *a = x;
    payload_wr_uint64(w, "basis", a->basis);
    cbor_item_t *pieces = w->rc == 0 ? cbor_new_definite_array(a->npieces) : NULL;
    for (uint32_t i = 0; pieces && i < a->npieces && w->rc == 0; i++) {
        const payload_piece_t *p = &a->pieces[i];
        payload_wr_t pw;
        payload_wr_begin(&pw, 7);
        payload_wr_bytes(&pw, "factory", p->factory, 32);
        payload_wr_text(&pw, "process", p->process);
        payload_wr_text(&pw, "material", p->material);
        payload_wr_int(&pw, "qty", p->qty);
        payload_wr_int(&pw, "first_day", p->first_day);
        payload_wr_int(&pw, "last_day", p->last_day);
        payload_wr_int(&pw, "cost", p->cost);
        w->rc = payload_wr_push(pieces, payload_wr_end(&pw));
    }
    payload_wr_put(w, "pieces", pieces);
    if (a->has_runner_up)
        payload_wr_bytes(w, "runner_up", a->runner_up, 32);
    payload_wr_bytes(w, "result", a->result, 32);
}

static void
s_assign_read(payload_rd_t *r, void *x)
{
    payload_assign_t *a = x;
    a->basis = payload_rd_uint64(r, "basis");
    size_t n = 0;
    cbor_item_t **pieces = payload_rd_array(r, "pieces", 1, PAYLOAD_MAX_PIECES, &n);
    for (size_t i = 0; i < n && r->rc == 0; i++) {
        payload_piece_t *p = &a->pieces[i];
        payload_rd_t pr;
        payload_rd_open(&pr, pieces[i]);
        payload_rd_bytes(&pr, "factory", p->factory, 32);
        payload_rd_text(&pr, "process", p->process, sizeof p->process);
        payload_rd_text(&pr, "material", p->material, sizeof p->material);
        p->qty = payload_rd_int(&pr, "qty", INT64_MIN, INT64_MAX);
        p->first_day = s_rd_u32(&pr, "first_day");
        p->last_day = s_rd_u32(&pr, "last_day");
        p->cost = payload_rd_int(&pr, "cost", INT64_MIN, INT64_MAX);
        r->rc = pr.rc;
    }
    a->npieces = (uint32_t) n;
    a->has_runner_up = payload_rd_has(r, "runner_up");
    if (a->has_runner_up)
        payload_rd_bytes(r, "runner_up", a->runner_up, 32);
    payload_rd_bytes(r, "result", a->result, 32);
}

int
payload_assign_encode(const payload_assign_t *a, uint8_t **out, size_t *len)
{
    return payload_encode_with(a, s_assign_check, 4, s_assign_write, out, len);
}

int
payload_assign_decode(payload_assign_t *a, const uint8_t *data, size_t len)
{
    return payload_decode_with(a, sizeof *a, data, len, s_assign_read, s_assign_check);
}

/* ---- Accept, decline, cancel: one text field each ------------------------- */

static int
s_accept_check(const void *x)
{
    const payload_accept_t *a = x;
    return s_text_ok(a->note, sizeof a->note, 0, PAYLOAD_MAX_TEXT) ? 0 : COFAB_EMALFORMED;
}

static void s_accept_write(payload_wr_t *w, const void *x)
{
    s_opt_text_write(w, "note", ((const payload_accept_t *) x)->note);
}

static void s_accept_read(payload_rd_t *r, void *x)
{
    s_opt_text_read(r, "note", ((payload_accept_t *) x)->note, PAYLOAD_MAX_TEXT + 1);
}

int
payload_accept_encode(const payload_accept_t *a, uint8_t **out, size_t *len)
{
    return payload_encode_with(a, s_accept_check, 1, s_accept_write, out, len);
}

int
payload_accept_decode(payload_accept_t *a, const uint8_t *data, size_t len)
{
    return payload_decode_with(a, sizeof *a, data, len, s_accept_read, s_accept_check);
}

static int
s_decline_check(const void *x)
{
    const payload_decline_t *d = x;
    return s_text_ok(d->reason, sizeof d->reason, 1, PAYLOAD_MAX_TEXT) ? 0 : COFAB_EMALFORMED;
}

static void s_decline_write(payload_wr_t *w, const void *x)
{
    payload_wr_text(w, "reason", ((const payload_decline_t *) x)->reason);
}

static void s_decline_read(payload_rd_t *r, void *x)
{
    payload_rd_text(r, "reason", ((payload_decline_t *) x)->reason, PAYLOAD_MAX_TEXT + 1);
}

int
payload_decline_encode(const payload_decline_t *d, uint8_t **out, size_t *len)
{
    return payload_encode_with(d, s_decline_check, 1, s_decline_write, out, len);
}

int
payload_decline_decode(payload_decline_t *d, const uint8_t *data, size_t len)
{
    return payload_decode_with(d, sizeof *d, data, len, s_decline_read, s_decline_check);
}

static int
s_cancel_check(const void *x)
{
    const payload_cancel_t *c = x;
    return s_text_ok(c->reason, sizeof c->reason, 0, PAYLOAD_MAX_TEXT) ? 0 : COFAB_EMALFORMED;
}

static void s_cancel_write(payload_wr_t *w, const void *x)
{
    s_opt_text_write(w, "reason", ((const payload_cancel_t *) x)->reason);
}

static void s_cancel_read(payload_rd_t *r, void *x)
{
    s_opt_text_read(r, "reason", ((payload_cancel_t *) x)->reason, PAYLOAD_MAX_TEXT + 1);
}

int
payload_cancel_encode(const payload_cancel_t *c, uint8_t **out, size_t *len)
{
    return payload_encode_with(c, s_cancel_check, 1, s_cancel_write, out, len);
}

int
payload_cancel_decode(payload_cancel_t *c, const uint8_t *data, size_t len)
{
    return payload_decode_with(c, sizeof *c, data, len, s_cancel_read, s_cancel_check);
}

/* ---- Status, reassign ---------------------------------------------------- */

static int
s_status_check(const void *x)
{
    const payload_status_t *s = x;
    return payload_stage_name((int) s->stage) && (s->has_attachment == 0 || s->has_attachment == 1)
               ? 0 : COFAB_EMALFORMED;
}

static void
s_status_write(payload_wr_t *w, const void *x)
{
    const payload_status_t *s = x;
    payload_wr_text(w, "stage", payload_stage_name((int) s->stage));
    if (s->has_attachment)
        payload_wr_bytes(w, "attachment", s->attachment, 32);
}

static void
s_status_read(payload_rd_t *r, void *x)
{
    payload_status_t *s = x;
    s->stage = (payload_stage_t) payload_rd_enum(r, "stage", payload_stage_parse);
    s->has_attachment = payload_rd_has(r, "attachment");
    if (s->has_attachment)
        payload_rd_bytes(r, "attachment", s->attachment, 32);
}

int
payload_status_encode(const payload_status_t *s, uint8_t **out, size_t *len)
{
    return payload_encode_with(s, s_status_check, 2, s_status_write, out, len);
}

int
payload_status_decode(payload_status_t *s, const uint8_t *data, size_t len)
{
    return payload_decode_with(s, sizeof *s, data, len, s_status_read, s_status_check);
}

static int
s_reassign_check(const void *x)
{
    return payload_why_name((int) ((const payload_reassign_t *) x)->why) ? 0 : COFAB_EMALFORMED;
}

static void
s_reassign_write(payload_wr_t *w, const void *x)
{
    const payload_reassign_t *re = x;
    payload_wr_text(w, "why", payload_why_name((int) re->why));
    payload_wr_bytes(w, "factory", re->factory, 32);
    payload_wr_uint64(w, "basis", re->basis);
}

static void
s_reassign_read(payload_rd_t *r, void *x)
{
    payload_reassign_t *re = x;
    re->why = (payload_why_t) payload_rd_enum(r, "why", payload_why_parse);
    payload_rd_bytes(r, "factory", re->factory, 32);
    re->basis = payload_rd_uint64(r, "basis");
}

int
payload_reassign_encode(const payload_reassign_t *re, uint8_t **out, size_t *len)
{
    return payload_encode_with(re, s_reassign_check, 3, s_reassign_write, out, len);
}

int
payload_reassign_decode(payload_reassign_t *re, const uint8_t *data, size_t len)
{
    return payload_decode_with(re, sizeof *re, data, len, s_reassign_read, s_reassign_check);
}

/* ---- Any kind ------------------------------------------------------------ */

/* Every decoded struct, so one allocation fits whichever kind comes. */
typedef union {
    payload_genesis_t genesis;
    payload_member_t member;
    payload_member_remove_t member_remove;
    payload_capacity_t capacity;
    payload_order_t order;
    payload_assign_t assign;
    payload_accept_t accept;
    payload_decline_t decline;
    payload_status_t status;
    payload_cancel_t cancel;
    payload_reassign_t reassign;
} s_any_t;

int
payload_check(int kind, const uint8_t *data, size_t len)
{
    if (!data && len)
        return COFAB_EINVAL;
    if (kind < 1 || kind > ENVELOPE_KIND_MAX)
        return COFAB_EKIND;
    if (kind == ENVELOPE_NOTE)
        return len > ENVELOPE_MAX_PAYLOAD ? COFAB_ETOOBIG : 0;
    s_any_t *u = malloc(sizeof *u);
    if (!u)
        return COFAB_ENOMEM;
    int rc;
    switch (kind) {
    case ENVELOPE_GENESIS: rc = payload_genesis_decode(&u->genesis, data, len); break;
    case ENVELOPE_MEMBER_ADD: rc = payload_member_add_decode(&u->member, data, len); break;
    case ENVELOPE_MEMBER_REMOVE:
        rc = payload_member_remove_decode(&u->member_remove, data, len);
        break;
    case ENVELOPE_CAPACITY: rc = payload_capacity_decode(&u->capacity, data, len); break;
    case ENVELOPE_ORDER: rc = payload_order_decode(&u->order, data, len); break;
    case ENVELOPE_ASSIGN: rc = payload_assign_decode(&u->assign, data, len); break;
    case ENVELOPE_ACCEPT: rc = payload_accept_decode(&u->accept, data, len); break;
    case ENVELOPE_DECLINE: rc = payload_decline_decode(&u->decline, data, len); break;
    case ENVELOPE_STATUS: rc = payload_status_decode(&u->status, data, len); break;
    case ENVELOPE_CANCEL: rc = payload_cancel_decode(&u->cancel, data, len); break;
    case ENVELOPE_REASSIGN: rc = payload_reassign_decode(&u->reassign, data, len); break;
    default: rc = COFAB_EKIND; break;
    }
    free(u);
    return rc;
}
