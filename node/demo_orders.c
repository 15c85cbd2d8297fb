/* demo_orders.c — `cofab demo`'s customers and factory operators: submit, wait for placement, cancel, progress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/cli.h"
#include "cofab/error.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "demo_internal.h"

#define S_CMD_MS 30000          /* one CLI command */
#define S_PLACE_MS 20000        /* a batch of orders placed and accepted */
#define S_POLL_MS 100
#define S_STAGES 4

static const char *const s_stage_names[S_STAGES] = {"in-production", "qc-passed", "shipped",
                                                    "delivered"};

demo_order_t *
demo_order_by_role(demo_t *d, demo_role_t role)
{
    for (size_t i = 0; i < d->norders; i++)
        if (d->orders[i].spec->role == role)
            return &d->orders[i];
    return NULL;
}

static int
s_num(const demo_t *d, const demo_order_t *o)
{
    return (int) (o - d->orders) + 1;
}

static int
s_accepted(const demo_order_t *o)
{
    return o->state >= POLICY_ACCEPTED && o->state <= POLICY_DELIVERED;
}

/* The matcher's reason for the unplaced order, from the hub's log line
 * "N order(s) not placed this round (first: <16 hex>…, REASON)". */
static int
s_unplaced_reason(const demo_t *d, const demo_order_t *o, char *reason, size_t max)
{
    char needle[40], line[600];
    snprintf(needle, sizeof needle, "(first: %.16s", o->id);
    if (demo_grep(d->hub.log, needle, line, sizeof line) == 0)
        return COFAB_ENOTFOUND;
    const char *p = strstr(line, needle) + strlen(needle);
    p = strstr(p, ", ");
    if (!p)
        return COFAB_EMALFORMED;
    p += 2;
    size_t n = strcspn(p, ")");
    snprintf(reason, max, "%.*s", (int) n, p);
    return 0;
}

/* The reason in words (docs/matcher.md, "Unplaced reasons"). */
static void
s_explain(const demo_spec_t *s, const char *reason, char *out, size_t max)
{
    if (!strcmp(reason, "no-capable") || !strcmp(reason, "redundancy"))
        snprintf(out, max, "no factory in the alliance offers %s of %s", s->process[0],
                 s->material[0]);
    else if (!strcmp(reason, "below-moq"))
        snprintf(out, max, "the quantity is below every capable factory's minimum");
    else if (!strcmp(reason, "above-max"))
        snprintf(out, max, "too large for any one factory, and splitting is not allowed");
    else if (!strcmp(reason, "over-budget"))
        snprintf(out, max, "every capable factory would cost more than the budget");
    else if (!strcmp(reason, "no-capacity"))
        snprintf(out, max, "no capable factory has the free capacity before the due date");
    else
        snprintf(out, max, "the matcher says '%s'", reason);
}

static int
s_submit(demo_t *d, demo_order_t *o, int show)
{
    size_t i = (size_t) (o - d->orders);
    char key[96], file[32], items[160];
    snprintf(key, sizeof key, "keys/%s.key", o->spec->customer);
    snprintf(file, sizeof file, "orders/%02zu.json", i + 1);
    const char *argv[] = {"order", "submit", "--hub", d->submit, "--hub-key", "keys/hub.pub",
                          "--key", key, "--file", file, NULL};
    if (show)
        demo_show_cmd(d, argv, NULL);
    int code = 0, rc = demo_run(d, argv, S_CMD_MS, &code);
    uint8_t id[32];
    if (rc == 0 && code != 0) {
        snprintf(d->why, sizeof d->why, "order submit %s failed (exit %d): %.300s", file, code,
                 d->err);
        d->culprit = d->hub.log;
        return COFAB_ESTATE;
    }
    if (rc != 0)
        return rc;
    snprintf(o->id, sizeof o->id, "%.64s", d->out);
    if (cli_parse_hex32(o->id, id) != 0) {
        snprintf(d->why, sizeof d->why, "order submit printed no order id: %.300s", d->out);
        o->id[0] = 0;
        return COFAB_EMALFORMED;
    }
    if (show)
        printf("    %s%s%s\n", demo_c(d, DEMO_DIM), o->id, demo_c(d, DEMO_OFF));
    demo_spec_items(o->spec, items, sizeof items);
    printf("      #%-2zu %.8s  %-6s %s: %s, due in %d days, to %s%s\n", i + 1, o->id,
           o->spec->customer, o->spec->title, items, o->spec->due_in_days, o->spec->place,
           o->spec->split ? " (may be split)" : "");
    return 0;
}

/* Has order o reached what its batch step waits for? */
static int
s_settled(const demo_t *d, const demo_order_t *o, int batch)
{
    char reason[64];
    if (o->spec->role == DEMO_UNPLACED)
        return o->state == POLICY_SUBMITTED && s_unplaced_reason(d, o, reason, sizeof reason) == 0;
    if (o->spec->role == DEMO_REASSIGN && batch == 2)
        return o->state == POLICY_ASSIGNED || s_accepted(o);
    return s_accepted(o);
}

static void
s_show_placement(const demo_t *d, const demo_order_t *o)
{
    char reason[64], words[200];
    const char *to = o->made_by;
    printf("      #%-2d %.8s  %-24s ", s_num(d, o), o->id, o->spec->title);
    if (o->spec->role == DEMO_UNPLACED) {
        s_unplaced_reason(d, o, reason, sizeof reason);
        s_explain(o->spec, reason, words, sizeof words);
        printf("-> %sNOT PLACED%s: %s\n", demo_c(d, DEMO_BOLD), demo_c(d, DEMO_OFF), words);
    } else if (o->state == POLICY_ASSIGNED) {
        printf("-> %s (assigned, not accepted)\n", to);
    } else if (o->nfactories > 1) {
        printf("-> %sSPLIT%s: %s, both accepted\n", demo_c(d, DEMO_BOLD), demo_c(d, DEMO_OFF), to);
    } else {
        printf("-> %s, accepted\n", to);
    }
}

int
demo_orders_batch(demo_t *d, int batch, int explain)
{
    int rc = 0, n = 0;
    for (size_t i = 0; rc == 0 && i < d->norders; i++)
        if (d->orders[i].spec->batch == batch)
            rc = s_submit(d, &d->orders[i], explain && n++ == 0);
    uint64_t deadline = util_mono_ns() + (uint64_t) S_PLACE_MS * 1000000u;
    for (;;) {
        if (rc == 0)
            rc = demo_refresh(d);
        if (rc != 0)
            return rc;
        const demo_order_t *late = NULL;
        for (size_t i = 0; i < d->norders && !late; i++)
            if (d->orders[i].spec->batch == batch && !s_settled(d, &d->orders[i], batch))
                late = &d->orders[i];
        if (!late)
            break;
        if (util_mono_ns() > deadline) {
            snprintf(d->why, sizeof d->why, "order #%d was not %s within %d s (state %s)",
                     s_num(d, late), late->spec->role == DEMO_UNPLACED ? "reported unplaced"
                                                                        : "placed and accepted",
                     S_PLACE_MS / 1000, policy_state_name(late->state));
            d->culprit = d->hub.log;
            return COFAB_ENET;
        }
        rc = demo_sleep(d, S_POLL_MS);
    }
    if (explain)
        demo_say(d, "The hub runs the matcher every 200 ms on what the ledger holds: prices, "
                    "setup costs, shipping distance, due dates and free capacity. Its decisions "
                    "are ledger records too, and each factory's node accepts its assignments:");
    else
        demo_say(d, "Placed:");
    for (size_t i = 0; i < d->norders; i++)
        if (d->orders[i].spec->batch == batch)
            s_show_placement(d, &d->orders[i]);
    for (size_t i = 0; i < d->norders; i++) {
        const demo_order_t *o = &d->orders[i];
        char line[600], needle[40];
        if (o->spec->batch != batch)
            continue;
        if (o->spec->role == DEMO_SPLIT)
            demo_say(d, "#%d is more than any one factory takes of %s/%s, and %s allowed a "
                        "split: each factory makes and reports its own piece.",
                     s_num(d, o), o->spec->process[0], o->spec->material[0], o->spec->customer);
        if (o->spec->role == DEMO_UNPLACED) {
            snprintf(needle, sizeof needle, "(first: %.16s", o->id);
            demo_grep(d->hub.log, needle, line, sizeof line);
            demo_say(d, "#%d stays open, waiting for a factory that can make it. The customer's "
                        "`order status` only shows it as submitted; the reason is in the hub's "
                        "log (logs/hub.log):",
                     s_num(d, o));
            printf("      %s%s%s\n", demo_c(d, DEMO_DIM), line, demo_c(d, DEMO_OFF));
        }
    }
    return 0;
}

int
demo_cancel(demo_t *d)
{
    demo_order_t *o = demo_order_by_role(d, DEMO_CANCEL);
    char key[96];
    demo_step(d, "A customer cancels");
    demo_say(d, "%s changed the design of his %s (#%d). The customer who placed an order may "
                "cancel it until it ships:",
             o->spec->customer, o->spec->title, s_num(d, o));
    snprintf(key, sizeof key, "keys/%s.key", o->spec->customer);
    const char *argv[] = {"order", "cancel", o->id, "--hub", d->submit, "--hub-key",
                          "keys/hub.pub", "--key", key, "--reason", "design changed", NULL};
    demo_show_cmd(d, argv, NULL);
    int code = 0, rc = demo_run(d, argv, S_CMD_MS, &code);
    if (rc == 0 && code != 0) {
        snprintf(d->why, sizeof d->why, "order cancel failed (exit %d): %.300s", code, d->err);
        d->culprit = d->hub.log;
        return COFAB_ESTATE;
    }
    uint64_t deadline = util_mono_ns() + 10000000000u;
    while (rc == 0 && (rc = demo_refresh(d)) == 0 && o->state != POLICY_CANCELLED) {
        if (util_mono_ns() > deadline) {
            snprintf(d->why, sizeof d->why, "order #%d is %s, not cancelled", s_num(d, o),
                     policy_state_name(o->state));
            return COFAB_ESTATE;
        }
        rc = demo_sleep(d, S_POLL_MS);
    }
    if (rc == 0)
        printf("    %s%.*s%s\n", demo_c(d, DEMO_DIM), (int) strcspn(d->out, "\n"), d->out,
               demo_c(d, DEMO_OFF));
    if (rc == 0)
        demo_say(d, "#%d is cancelled; %s's capacity for it is free again.", s_num(d, o),
                 o->made_by);
    return rc;
}

/* Factory f reports order o's stages up to `upto`. */
static int
s_progress(demo_t *d, demo_order_t *o, int f, int upto)
{
    char cfg[96];
    snprintf(cfg, sizeof cfg, "factory-%s.ini", d->nodes[f].name);
    while (o->stages[f] < upto) {
        const char *argv[] = {"factory", "progress", o->id, s_stage_names[o->stages[f]], "--config",
                              cfg, NULL};
        if (!d->progress_shown) {
            demo_say(d, "Each factory's operator reports progress to its own node, which signs "
                        "and submits it: in-production, qc-passed, shipped, delivered. For "
                        "example:");
            demo_show_cmd(d, argv, NULL);
            d->progress_shown = 1;
        }
        int code = 0, rc = demo_run(d, argv, S_CMD_MS, &code);
        if (rc == 0 && code != 0) {
            snprintf(d->why, sizeof d->why,
                     "factory progress %s of #%d at %s failed (exit %d): %.300s",
                     s_stage_names[o->stages[f]], s_num(d, o), d->nodes[f].name, code, d->err);
            d->culprit = d->nodes[f].log;
            return COFAB_ESTATE;
        }
        if (rc != 0)
            return rc;
        o->stages[f]++;
    }
    return 0;
}

int
demo_produce(demo_t *d, int max_batch, int upto, int slow, int slow_upto)
{
    char done[DEMO_NFACTORIES][160];
    int rc = demo_refresh(d);
    memset(done, 0, sizeof done);
    for (size_t i = 0; rc == 0 && i < d->norders; i++) {
        demo_order_t *o = &d->orders[i];
        if (o->spec->batch > max_batch || !s_accepted(o))
            continue;
        for (int k = 0; rc == 0 && k < o->nfactories; k++) {
            int f = o->factory[k], target = f == slow ? slow_upto : upto;
            if (o->stages[f] >= target)
                continue;
            rc = s_progress(d, o, f, target);
            size_t used = strlen(done[f]);
            snprintf(done[f] + used, sizeof done[f] - used, "%s#%zu", used ? ", " : "", i + 1);
        }
    }
    if (rc == 0)
        rc = demo_refresh(d);
    for (int f = 0; rc == 0 && f < DEMO_NFACTORIES; f++) {
        if (!done[f][0])
            continue;
        int target = f == slow ? slow_upto : upto;
        printf("      %-11s %s: %s\n", d->nodes[f].name,
               target == S_STAGES ? "delivered" : "in production", done[f]);
    }
    /* What the factories reported must be what the hub's ledger says now. */
    for (size_t i = 0; rc == 0 && i < d->norders; i++) {
        demo_order_t *o = &d->orders[i];
        int least = S_STAGES;
        for (int k = 0; k < o->nfactories; k++)
            least = o->stages[o->factory[k]] < least ? o->stages[o->factory[k]] : least;
        if (s_accepted(o) && least > 0 && o->state != POLICY_ACCEPTED + least) {
            snprintf(d->why, sizeof d->why, "order #%zu is %s in the hub's ledger after its "
                                            "factories reported %s", i + 1,
                     policy_state_name(o->state), s_stage_names[least - 1]);
            d->culprit = d->hub.log;
            return COFAB_ESTATE;
        }
    }
    return rc;
}

int
demo_wait_reassigned(demo_t *d)
{
    demo_order_t *o = demo_order_by_role(d, DEMO_REASSIGN);
    uint64_t start = util_mono_ns();
    uint64_t deadline = start + (uint64_t) (DEMO_ACK_TIMEOUT_S * 1000 + S_PLACE_MS) * 1000000u;
    int rc = 0;
    while (rc == 0 && (rc = demo_refresh(d)) == 0 && !(o->reassigned && s_accepted(o))) {
        if (util_mono_ns() > deadline) {
            snprintf(d->why, sizeof d->why, "order #%d was not reassigned and accepted (state %s)",
                     s_num(d, o), policy_state_name(o->state));
            d->culprit = d->hub.log;
            return COFAB_ENET;
        }
        rc = demo_sleep(d, S_POLL_MS);
    }
    if (rc != 0)
        return rc;
    demo_say(d, "A factory has %d s to accept an assignment. %.1f s later the hub writes "
                "reassign(%s): #%d goes back to matching, never again to %s, and the matcher "
                "gives it to %s, which accepts at once.",
             DEMO_ACK_TIMEOUT_S, (double) (util_mono_ns() - start) / 1e9, o->why, s_num(d, o),
             o->left >= 0 ? d->nodes[o->left].name : "?", o->made_by);
    return 0;
}
