/* cmd_demo.c — `cofab demo`: a hub and five factories on 127.0.0.1 taken through real orders, a power cut and an audit.
 *
 * The story, step by step, is in s_story(); the pieces are in demo_*.c
 * (see demo_internal.h). Exit 0 when every step worked and both audits
 * are VALID; 1 on any failure or interrupt (after stopping every child
 * and removing the directory); 2 usage.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cofab/cli.h"
#include "cofab/error.h"
#include "cofab/util.h"
#include "demo_internal.h"

#define S_HUB_TRIES 3           /* a port taken between the probe and the bind: try others */
#define S_START_MS 20000        /* hub up; every factory's capacity in the ledger */
#define S_CATCHUP_MS 20000      /* a restarted node reaches the hub's size */
#define S_DOWN "print"          /* the factory that loses power */

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: cofab demo [--keep]\n"
                 "Runs a hub and five factory nodes on 127.0.0.1 in a temporary directory, takes\n"
                 "them through about twenty orders (a split, an unplaceable order, a cancel, a\n"
                 "factory killed and restarted), audits the ledgers, then stops everything and\n"
                 "removes the directory.\n"
                 "  --keep  leave the alliance running and print commands to try by hand\n");
}

static int
s_setup(demo_t *d)
{
    printf("%scofab demo%s: a small alliance of factories, run for real on this machine\n\n",
           demo_c(d, DEMO_BOLD), demo_c(d, DEMO_OFF));
    demo_say(d, "cofab lets small factories share custom orders that none of them could always "
                "take alone. A hub records every signed request in an append-only, hash-chained "
                "Merkle ledger and runs a deterministic matcher; each factory runs a node that "
                "keeps its own verified copy of the ledger, cosigns its checkpoints, publishes "
                "its capacity and takes work. Below, a hub, five factories and three customers "
                "run as separate processes on 127.0.0.1, in %s%s.",
             d->dir, d->keep ? "" : " (removed at the end)");
    demo_step(d, "Keys and configuration");
    int port[2];
    for (int i = 0; i < 2; i++)
        if ((port[i] = demo_free_port()) < 0) {
            snprintf(d->why, sizeof d->why, "no free TCP port on 127.0.0.1");
            return COFAB_EIO;
        }
    snprintf(d->submit, sizeof d->submit, "tcp://127.0.0.1:%d", port[0]);
    snprintf(d->feed, sizeof d->feed, "tcp://127.0.0.1:%d", port[1]);
    const demo_factory_def_t *f = demo_factories();
    snprintf(d->hub.name, sizeof d->hub.name, "hub");
    snprintf(d->hub.log, sizeof d->hub.log, "%s/logs/hub.log", d->dir);
    for (int i = 0; i < DEMO_NFACTORIES; i++) {
        snprintf(d->nodes[i].name, sizeof d->nodes[i].name, "%s", f[i].name);
        snprintf(d->nodes[i].log, sizeof d->nodes[i].log, "%s/logs/%s.log", d->dir, f[i].name);
    }
    const demo_spec_t *specs = demo_specs(&d->norders);
    for (size_t i = 0; i < d->norders; i++) {
        d->orders[i].spec = &specs[i];
        d->orders[i].first = d->orders[i].left = -1;
    }
    int rc = demo_write_files(d);
    if (rc != 0)
        return rc;
    const char *argv[] = {"keygen", "hub", "--dir", "keys", NULL};
    demo_show_cmd(d, argv, "   (and nine more)");
    demo_say(d, "Every party has an Ed25519 key that signs and an X25519 key for the encrypted "
                "transport: the hub, the alliance's operator, five factories and three customers "
                "(alice, a clothing label in Turin; bob, a robotics start-up in Lyon; carol, a "
                "chain of cafes in Belgium). The configuration files are those of config/, on "
                "free loopback ports: hub.ini and factory-NAME.ini.");
    return 0;
}

static int
s_start_hub(demo_t *d)
{
    demo_step(d, "The hub starts");
    const char *argv[] = {"hub", "--config", "hub.ini", NULL};
    demo_show_cmd(d, argv, " &");
    int rc = 0;
    for (int attempt = 1; rc == 0; attempt++) {
        char line[512];
        int before = demo_grep(d->hub.log, "cannot bind", line, sizeof line);
        rc = demo_start(d, &d->hub, argv);
        uint64_t deadline = util_mono_ns() + (uint64_t) S_START_MS * 1000000u;
        while (rc == 0 && demo_grep(d->hub.log, " hub: serving ", line, sizeof line) == 0) {
            if (util_mono_ns() > deadline) {
                snprintf(d->why, sizeof d->why, "the hub did not start within %d s",
                         S_START_MS / 1000);
                d->culprit = d->hub.log;
                return COFAB_ENET;
            }
            rc = demo_sleep(d, 50);
        }
        if (rc == 0)
            break;
        /* Someone took a port between our probe and the hub's bind. */
        if (d->interrupted || attempt == S_HUB_TRIES ||
            demo_grep(d->hub.log, "cannot bind", line, sizeof line) == before)
            return rc;
        int a = demo_free_port(), b = demo_free_port();
        snprintf(d->submit, sizeof d->submit, "tcp://127.0.0.1:%d", a);
        snprintf(d->feed, sizeof d->feed, "tcp://127.0.0.1:%d", b);
        rc = a > 0 && b > 0 ? demo_write_configs(d) : COFAB_EIO;
    }
    demo_say(d, "Its first start writes the genesis record, signed by the operator: the five "
                "founding factories, the matcher's parameters and the rules. Every checkpoint "
                "needs the cosignatures of %d factories, and a factory has %d s to accept an "
                "assignment (an hour by default; this demo is in a hurry).",
             DEMO_WITNESS_K, DEMO_ACK_TIMEOUT_S);
    demo_say(d, "hub running (pid %d): requests on %s, the ledger's live feed on %s", d->hub.pid,
             d->submit, d->feed);
    return 0;
}

static int
s_start_factories(demo_t *d)
{
    demo_step(d, "Five factories join");
    char cfg[DEMO_NFACTORIES][64];
    int rc = 0;
    for (int i = 0; rc == 0 && i < DEMO_NFACTORIES; i++) {
        snprintf(cfg[i], sizeof cfg[i], "factory-%s.ini", d->nodes[i].name);
        const char *argv[] = {"node", "--config", cfg[i], NULL};
        if (i == 0)
            demo_show_cmd(d, argv, " &   (one per factory)");
        rc = demo_start(d, &d->nodes[i], argv);
    }
    if (rc != 0)
        return rc;
    demo_say(d, "Each node keeps its own copy of the ledger and checks every record again, "
                "cosigns the hub's checkpoints, publishes its capacity and, here, accepts its "
                "assignments automatically.");
    uint64_t deadline = util_mono_ns() + (uint64_t) S_START_MS * 1000000u;
    int n;
    while ((n = demo_capacities(d)) != DEMO_NFACTORIES) {
        if (util_mono_ns() > deadline) {
            snprintf(d->why, sizeof d->why, "only %d of the %d factories published their "
                                            "capacity within %d s", n < 0 ? 0 : n,
                     DEMO_NFACTORIES, S_START_MS / 1000);
            d->culprit = d->hub.log;
            return COFAB_ENET;
        }
        if ((rc = demo_sleep(d, 100)) != 0)
            return rc;
    }
    for (int i = 0; i < DEMO_NFACTORIES; i++) {
        char place[80] = "", offers[400] = "";
        if (demo_factory_summary(d, i, place, sizeof place, offers, sizeof offers) != 0)
            snprintf(offers, sizeof offers, "?");
        printf("      %-11s pid %-7d %s: %s\n", d->nodes[i].name, d->nodes[i].pid, place, offers);
    }
    demo_say(d, "All five capacity records are in the ledger.");
    return 0;
}

static int
s_power_cut(demo_t *d, int down)
{
    demo_step(d, "Power cut at the print shop");
    char waiting[160] = "";
    for (size_t i = 0; i < d->norders; i++) {
        const demo_order_t *o = &d->orders[i];
        for (int k = 0; k < o->nfactories; k++) {
            size_t used = strlen(waiting);
            if (o->factory[k] == down && o->stages[down] > 0)
                snprintf(waiting + used, sizeof waiting - used, "%s#%zu", used ? ", " : "", i + 1);
        }
    }
    demo_say(d, "The print shop in Ghent loses power: its node is killed without warning (kill -9 "
                "%d). Its orders in production (%s) wait; nobody tells the hub.",
             d->nodes[down].pid, waiting);
    demo_kill(d, &d->nodes[down], SIGKILL, 2000);
    demo_say(d, "Meanwhile orders keep coming:");
    int rc = demo_orders_batch(d, 2, 0);
    demo_order_t *o = demo_order_by_role(d, DEMO_REASSIGN);
    if (rc == 0 && o->first != down) {
        snprintf(d->why, sizeof d->why, "order #%d went to %s, not to %s",
                 (int) (o - d->orders) + 1, o->made_by, S_DOWN);
        return COFAB_ESTATE;
    }
    if (rc == 0)
        demo_say(d, "#%d went to %s, the cheapest for laser-cut acrylic near %s, but nobody is "
                    "there to accept it.",
                 (int) (o - d->orders) + 1, S_DOWN, o->spec->place);
    return rc == 0 ? demo_wait_reassigned(d) : rc;
}

static int
s_restart(demo_t *d, int down)
{
    demo_step(d, "The print shop comes back");
    char line[512], cfg[64];
    int before = demo_grep(d->nodes[down].log, "caught up:", line, sizeof line);
    snprintf(cfg, sizeof cfg, "factory-%s.ini", S_DOWN);
    const char *argv[] = {"node", "--config", cfg, NULL};
    demo_show_cmd(d, argv, " &");
    int rc = demo_start(d, &d->nodes[down], argv);
    uint64_t deadline = util_mono_ns() + (uint64_t) S_CATCHUP_MS * 1000000u;
    while (rc == 0 && (demo_grep(d->nodes[down].log, "caught up:", line, sizeof line) == before ||
                       demo_ledger_size(d, S_DOWN) != demo_ledger_size(d, "hub"))) {
        if (util_mono_ns() > deadline) {
            snprintf(d->why, sizeof d->why, "%s did not catch up within %d s", S_DOWN,
                     S_CATCHUP_MS / 1000);
            d->culprit = d->nodes[down].log;
            return COFAB_ENET;
        }
        rc = demo_sleep(d, 100);
    }
    if (rc != 0)
        return rc;
    const char *what = strstr(line, "caught up:");
    demo_say(d, "Its node (pid %d) reopens its replica and fetches what it missed, verifying every "
                "record again (%s), then cosigns and publishes its capacity again. Its orders "
                "move on:",
             d->nodes[down].pid, what ? what : "caught up");
    return demo_produce(d, 1, 4, -1, 0);
}

static void
s_keep_help(const demo_t *d)
{
    const demo_order_t *o = demo_order_by_role((demo_t *) d, DEMO_REASSIGN);
    printf("\n%sThe alliance keeps running (--keep).%s Try, in another shell:\n",
           demo_c(d, DEMO_BOLD), demo_c(d, DEMO_OFF));
    printf("    cd %s\n    C=%s\n", d->dir, d->exe);
    printf("    $C order status %s --hub %s --hub-key keys/hub.pub\n", o->id, d->submit);
    printf("    ID=$($C order submit --hub %s --hub-key keys/hub.pub --key keys/alice.key "
           "--file orders/01.json)\n", d->submit);
    printf("    $C order status $ID --hub %s --hub-key keys/hub.pub   # which factory has it?\n",
           d->submit);
    printf("    $C factory progress $ID in-production --config factory-NAME.ini   # as that "
           "factory\n");
    printf("    $C order cancel $ID --hub %s --hub-key keys/hub.pub --key keys/alice.key\n",
           d->submit);
    printf("    $C ledger show --ledger data/hub --count 10\n");
    printf("    $C audit verify --ledger data/hub --replay\n");
    printf("    tail -f logs/hub.log logs/%s.log\n", S_DOWN);
    printf("Processes: hub %d", d->hub.pid);
    for (int i = 0; i < DEMO_NFACTORIES; i++)
        printf(", %s %d", d->nodes[i].name, d->nodes[i].pid);
    printf("\nTo stop everything and clean up:\n    kill %d", d->hub.pid);
    for (int i = 0; i < DEMO_NFACTORIES; i++)
        printf(" %d", d->nodes[i].pid);
    printf("; sleep 1; rm -rf %s\n", d->dir);
}

static int
s_story(demo_t *d)
{
    int rc = s_setup(d);
    if (rc == 0)
        rc = s_start_hub(d);
    if (rc == 0)
        rc = s_start_factories(d);
    int down = demo_factory_index(d, S_DOWN);
    if (rc == 0) {
        demo_step(d, "Customers order");
        demo_say(d, "alice, bob and carol submit their orders. Each is a signed record; the hub "
                    "answers once it is durably in the ledger, and the command prints the "
                    "order's id:");
        rc = demo_orders_batch(d, 1, 1);
    }
    if (rc == 0)
        rc = demo_cancel(d);
    if (rc == 0) {
        demo_step(d, "Production");
        rc = demo_produce(d, 1, 4, down, 1);
    }
    if (rc == 0)
        rc = s_power_cut(d, down);
    if (rc == 0)
        rc = s_restart(d, down);
    if (rc == 0) {
        demo_step(d, "Business as usual");
        demo_say(d, "New orders, two of them for the print shop, which takes work again:");
        rc = demo_orders_batch(d, 3, 0);
    }
    if (rc == 0) {
        demo_say(d, "Everything still open is made and delivered:");
        rc = demo_produce(d, 3, 4, -1, 0);
    }
    if (rc == 0)
        rc = demo_customer_view(d, demo_order_by_role(d, DEMO_REASSIGN));
    if (rc == 0)
        rc = demo_audit(d, down);
    if (rc == 0)
        demo_summary(d);
    return rc;
}

/* What failed, and the end of the log that tells why. */
static void
s_report_failure(const demo_t *d)
{
    fflush(stdout);
    if (d->interrupted) {
        fprintf(stderr, "\ncofab demo: %s during step %d (%s)\n", d->why, d->step,
                d->title[0] ? d->title : "start");
        return;
    }
    fprintf(stderr, "\ncofab demo: FAILED at step %d (%s): %s\n", d->step,
            d->title[0] ? d->title : "start", d->why[0] ? d->why : "unknown error");
    if (d->culprit)
        demo_tail(d->culprit, 20);
    if (d->culprit != d->hub.log && d->hub.log[0])
        demo_tail(d->hub.log, 10);
}

int
demo_main(int argc, char **argv)
{
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keep")) {
            keep = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_usage(stdout);
            return CLI_OK;
        } else {
            s_usage(stderr);
            return CLI_USAGE;
        }
    }
    demo_t *d = malloc(sizeof *d);
    if (!d) {
        fprintf(stderr, "cofab demo: out of memory\n");
        return CLI_FAIL;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* the story as it happens, even into a pipe */
    int rc = demo_init(d, keep);
    if (rc == 0)
        rc = s_story(d);
    if (rc != 0)
        s_report_failure(d);
    int code = rc == 0 ? CLI_OK : CLI_FAIL;
    if (rc == 0 && keep) {
        s_keep_help(d);
    } else {
        demo_stop_all(d);
        struct stat st;
        int removed = demo_remove_dir(d) == 0 && stat(d->dir, &st) != 0;
        if (rc == 0 && removed)
            printf("\nDone in %.1f s: every process stopped, %s removed.\n", demo_elapsed(d),
                   d->dir);
        else if (d->dir[0])
            fprintf(stderr, "cofab demo: every process stopped; %s %s\n", d->dir,
                    removed ? "removed" : "could NOT be removed");
        if (!removed && d->dir[0])
            code = CLI_FAIL;
    }
    free(d);
    return code;
}
