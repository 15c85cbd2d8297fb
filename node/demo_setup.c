/* demo_setup.c — `cofab demo`'s alliance: the five factories of config/, the orders, keys and files.
 *
 * The factories' [capacity] and [offer.*] sections are config/factory-*.ini
 * verbatim (tests/cli/demo.sh checks they stay equal), embedded so that an
 * installed binary needs no config directory. The [node] section and
 * hub.ini get this run's loopback ports and directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/config.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "demo_internal.h"

#define S_INI_MAX 4096
#define S_CUSTOMERS 3

static const demo_factory_def_t s_factories[DEMO_NFACTORIES] = {
    {"garments",
     "[capacity]\n"
     "lat = 41.1579\n"
     "lon = -8.6291\n"
     "location = Porto, Portugal\n"
     "lead_days = 3\n"
     "; -1: the alliance's default reserve\n"
     "reserve_pct = -1\n"
     "horizon_days = 30\n"
     "valid_days = 14\n"
     "\n"
     "; prices and setup costs in euro cents\n"
     "[offer.sewing]\n"
     "materials = cotton, linen, denim\n"
     "unit_price = 850\n"
     "setup_cost = 15000\n"
     "moq = 50\n"
     "max_qty = 5000\n"
     "per_day = 400\n"
     "; closed Saturday and Sunday\n"
     "days_off = 5, 6\n"
     "\n"
     "[offer.embroidery]\n"
     "materials = cotton\n"
     "unit_price = 320\n"
     "setup_cost = 8000\n"
     "moq = 25\n"
     "max_qty = 2000\n"
     "per_day = 150\n"
     "days_off = 5, 6\n"},
    {"cnc",
     "[capacity]\n"
     "lat = 45.5416\n"
     "lon = 10.2118\n"
     "location = Brescia, Italy\n"
     "lead_days = 5\n"
     "reserve_pct = 15\n"
     "horizon_days = 45\n"
     "\n"
     "; prices and setup costs in euro cents\n"
     "[offer.cnc-milling]\n"
     "materials = aluminium, steel, brass\n"
     "unit_price = 4200\n"
     "setup_cost = 60000\n"
     "moq = 10\n"
     "max_qty = 2000\n"
     "per_day = 80\n"
     "days_off = 6\n"
     "\n"
     "[offer.laser-cutting]\n"
     "materials = steel, acrylic\n"
     "unit_price = 650\n"
     "setup_cost = 12000\n"
     "moq = 20\n"
     "max_qty = 10000\n"
     "per_day = 600\n"
     "days_off = 6\n"},
    {"print",
     "[capacity]\n"
     "lat = 51.0543\n"
     "lon = 3.7174\n"
     "location = Ghent, Belgium\n"
     "lead_days = 2\n"
     "horizon_days = 30\n"
     "\n"
     "; prices and setup costs in euro cents\n"
     "[offer.fdm-print]\n"
     "materials = pla, petg\n"
     "unit_price = 1200\n"
     "setup_cost = 2500\n"
     "moq = 1\n"
     "max_qty = 500\n"
     "per_day = 60\n"
     "\n"
     "[offer.laser-cutting]\n"
     "materials = acrylic, plywood\n"
     "unit_price = 540\n"
     "setup_cost = 9000\n"
     "moq = 10\n"
     "max_qty = 5000\n"
     "per_day = 300\n"
     "days_off = 5, 6\n"
     "\n"
     "[offer.screen-print]\n"
     "materials = cotton\n"
     "unit_price = 280\n"
     "setup_cost = 18000\n"
     "moq = 100\n"
     "max_qty = 20000\n"
     "per_day = 1500\n"
     "days_off = 5, 6\n"},
    {"embroidery",
     "[capacity]\n"
     "lat = 47.4245\n"
     "lon = 9.3767\n"
     "location = St. Gallen, Switzerland\n"
     "lead_days = 4\n"
     "reserve_pct = 10\n"
     "horizon_days = 30\n"
     "\n"
     "; prices and setup costs in euro cents\n"
     "[offer.embroidery]\n"
     "materials = cotton, polyester\n"
     "unit_price = 290\n"
     "setup_cost = 6000\n"
     "moq = 20\n"
     "max_qty = 3000\n"
     "per_day = 250\n"
     "days_off = 6\n"
     "\n"
     "[offer.sewing]\n"
     "materials = cotton\n"
     "unit_price = 990\n"
     "setup_cost = 12000\n"
     "moq = 30\n"
     "max_qty = 1500\n"
     "per_day = 120\n"
     "days_off = 5, 6\n"},
    {"furniture",
     "[capacity]\n"
     "lat = 52.4117\n"
     "lon = 17.0786\n"
     "location = Swarz\xc4\x99" "dz, Poland\n"
     "lead_days = 10\n"
     "horizon_days = 60\n"
     "valid_days = 30\n"
     "\n"
     "; prices and setup costs in euro cents\n"
     "[offer.cnc-milling]\n"
     "materials = oak, plywood\n"
     "unit_price = 7800\n"
     "setup_cost = 45000\n"
     "moq = 5\n"
     "max_qty = 400\n"
     "per_day = 25\n"
     "days_off = 5, 6\n"
     "\n"
     "[offer.upholstery]\n"
     "materials = fabric\n"
     "unit_price = 15500\n"
     "setup_cost = 30000\n"
     "moq = 2\n"
     "max_qty = 200\n"
     "per_day = 8\n"
     "days_off = 5, 6\n"},
};

/* Delivery points. */
#define S_TURIN 45.0703, 7.6869, "Turin"
#define S_LYON 45.7640, 4.8357, "Lyon"
#define S_BRUSSELS 50.8503, 4.3517, "Brussels"
#define S_ZURICH 47.3769, 8.5417, "Zurich"
#define S_ANTWERP 51.2194, 4.4025, "Antwerp"

/* alice runs a clothing label in Turin, bob a robotics start-up in Lyon,
 * carol a chain of cafes in Belgium. Quantities stay well inside the
 * factories' capacity so that where an order goes does not depend on the
 * weekday the demo runs on. */
static const demo_spec_t s_specs[] = {
    {"alice", "Team shirts", {"sewing"}, {"cotton"}, {120}, 21, S_TURIN, 0, 1, DEMO_PLAIN},
    {"alice", "Linen aprons", {"sewing"}, {"linen"}, {80}, 24, S_TURIN, 0, 1, DEMO_PLAIN},
    {"alice", "Festival tote bags", {"screen-print"}, {"cotton"}, {400}, 20, S_TURIN, 0, 1,
     DEMO_PLAIN},
    {"alice", "Denim jackets with logo", {"sewing", "embroidery"}, {"denim", "cotton"}, {60, 60},
     28, S_TURIN, 0, 1, DEMO_PLAIN},
    {"bob", "Aluminium robot brackets", {"cnc-milling"}, {"aluminium"}, {60}, 25, S_LYON, 0, 1,
     DEMO_PLAIN},
    {"bob", "Steel gear blanks", {"cnc-milling"}, {"steel"}, {40}, 30, S_LYON, 0, 1, DEMO_PLAIN},
    {"bob", "PETG prototype cases", {"fdm-print"}, {"petg"}, {25}, 14, S_LYON, 0, 1, DEMO_PLAIN},
    {"bob", "Brass door handles", {"cnc-milling"}, {"brass"}, {30}, 30, S_LYON, 0, 1, DEMO_CANCEL},
    {"carol", "Oak shelves", {"cnc-milling"}, {"oak"}, {30}, 35, S_BRUSSELS, 0, 1, DEMO_PLAIN},
    {"carol", "Bench cushions", {"upholstery"}, {"fabric"}, {12}, 35, S_BRUSSELS, 0, 1, DEMO_PLAIN},
    {"carol", "Plywood table signs", {"laser-cutting"}, {"plywood"}, {150}, 21, S_BRUSSELS, 0, 1,
     DEMO_PLAIN},
    {"carol", "Embroidered patches", {"embroidery"}, {"polyester"}, {500}, 21, S_BRUSSELS, 0, 1,
     DEMO_PLAIN},
    {"alice", "Marathon caps", {"embroidery"}, {"cotton"}, {4000}, 25, S_ZURICH, 1, 1, DEMO_SPLIT},
    {"carol", "Blown-glass lamp shades", {"glass-blowing"}, {"borosilicate"}, {40}, 30, S_BRUSSELS,
     0, 1, DEMO_UNPLACED},
    {"carol", "Acrylic cafe signs", {"laser-cutting"}, {"acrylic"}, {100}, 21, S_ANTWERP, 0, 2,
     DEMO_REASSIGN},
    {"bob", "Laser-cut steel panels", {"laser-cutting"}, {"steel"}, {200}, 21, S_LYON, 0, 2,
     DEMO_PLAIN},
    {"alice", "Embroidered napkins", {"embroidery"}, {"cotton"}, {300}, 21, S_TURIN, 0, 2,
     DEMO_PLAIN},
    {"carol", "Upholstered stools", {"upholstery"}, {"fabric"}, {10}, 40, S_BRUSSELS, 0, 2,
     DEMO_PLAIN},
    {"bob", "PLA replacement knobs", {"fdm-print"}, {"pla"}, {40}, 14, S_LYON, 0, 3, DEMO_PLAIN},
    {"carol", "Printed staff T-shirts", {"screen-print"}, {"cotton"}, {300}, 21, S_BRUSSELS, 0, 3,
     DEMO_PLAIN},
};

_Static_assert(sizeof s_specs / sizeof s_specs[0] <= DEMO_MAX_ORDERS, "too many orders");

const demo_factory_def_t *
demo_factories(void)
{
    return s_factories;
}

const demo_spec_t *
demo_specs(size_t *n)
{
    *n = sizeof s_specs / sizeof s_specs[0];
    return s_specs;
}

void
demo_spec_items(const demo_spec_t *s, char *out, size_t max)
{
    out[0] = 0;
    for (int i = 0; i < DEMO_MAX_ITEMS && s->process[i]; i++) {
        size_t used = strlen(out);
        snprintf(out + used, max - used, "%s%d %s/%s", i ? " + " : "", s->qty[i], s->process[i],
                 s->material[i]);
    }
}

/* Writes text to DIR/name (replacing it). */
static int
s_write(demo_t *d, const char *name, const char *text)
{
    char path[DEMO_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", d->dir, name);
    FILE *f = fopen(path, "w");
    int ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        snprintf(d->why, sizeof d->why, "cannot write %s: %s", path, strerror(errno));
        return COFAB_EIO;
    }
    return 0;
}

/* factory-NAME.ini for this run. */
static void
s_node_ini(const demo_t *d, int i, char *out, size_t max)
{
    const char *n = s_factories[i].name;
    snprintf(out, max,
             "; factory-%s.ini - written by `cofab demo`: config/factory-%s.ini with this run's\n"
             "; endpoints and directory.\n\n"
             "[node]\nname = %s\nkey = keys/%s.key\nhub_pub = keys/hub.pub\nhub = %s\nfeed = %s\n"
             "data_dir = data/%s\ncontrol = ipc://%s/%s.ctl\nauto_accept = yes\nwitness = yes\n"
             "reconnect_max_ms = 2000\n\n%s",
             n, n, n, n, d->submit, d->feed, n, d->dir, n, s_factories[i].body);
}

static int
s_write_hub_ini(demo_t *d)
{
    char *text = malloc(S_INI_MAX);
    if (!text)
        return COFAB_ENOMEM;
    int len = snprintf(text, S_INI_MAX,
                       "; hub.ini - written by `cofab demo`: config/hub.ini with this run's ports\n"
                       "; and a %d s acceptance timeout: a silent factory is noticed soon.\n\n"
                       "[hub]\norigin = cofab.example/alliance\ndata_dir = data/hub\n"
                       "key = keys/hub.key\noperator = keys/operator.pub\nsubmit = %s\nfeed = %s\n"
                       "batch_window_ms = 2\nmax_batch = 512\ncheckpoint_every = 256\n"
                       "checkpoint_ms = 500\nmatch_interval_ms = 200\nverify_threads = 2\n"
                       "map_max_mb = 0\ncustomer_rate = 200\n\n"
                       "[alliance]\ncustomers = open\n"
                       "; a strict majority of the factories must cosign a checkpoint\n"
                       "witness_k = %d\nack_timeout_s = %d\n",
                       DEMO_ACK_TIMEOUT_S, d->submit, d->feed, DEMO_WITNESS_K, DEMO_ACK_TIMEOUT_S);
    for (int i = 0; i < DEMO_NFACTORIES; i++)
        len += snprintf(text + len, S_INI_MAX - (size_t) len,
                        "\n[member.%s]\npub = keys/%s.pub\nrole = factory\n", s_factories[i].name,
                        s_factories[i].name);
    snprintf(text + len, S_INI_MAX - (size_t) len,
             "\n[matcher]\n; shipping: 0.60 per km per job\nship_per_km = 60\nlate_per_day = 5000\n"
             "batch_window = 7\nmin_capable = 1\nmax_candidates = 24\nls_budget = 2000000\n");
    int rc = s_write(d, "hub.ini", text);
    free(text);
    return rc;
}

/* orders/NN.json of order i. */
static int
s_write_order(demo_t *d, size_t i)
{
    const demo_spec_t *s = &s_specs[i];
    char text[1024], name[32];
    int len = snprintf(text, sizeof text, "{\"title\": \"%s\", \"items\": [", s->title);
    for (int k = 0; k < DEMO_MAX_ITEMS && s->process[k]; k++)
        len += snprintf(text + len, sizeof text - (size_t) len,
                        "%s{\"process\": \"%s\", \"material\": \"%s\", \"qty\": %d}",
                        k ? ", " : "", s->process[k], s->material[k], s->qty[k]);
    snprintf(text + len, sizeof text - (size_t) len,
             "],\n \"due_in_days\": %d, \"deliver_to\": {\"lat\": %.4f, \"lon\": %.4f}%s}\n",
             s->due_in_days, s->lat, s->lon, s->split ? ", \"split\": true" : "");
    snprintf(name, sizeof name, "orders/%02zu.json", i + 1);
    return s_write(d, name, text);
}

int
demo_write_configs(demo_t *d)
{
    char *text = malloc(S_INI_MAX);
    int rc = text ? s_write_hub_ini(d) : COFAB_ENOMEM;
    for (int i = 0; rc == 0 && i < DEMO_NFACTORIES; i++) {
        char name[64];
        snprintf(name, sizeof name, "factory-%s.ini", s_factories[i].name);
        s_node_ini(d, i, text, S_INI_MAX);
        rc = s_write(d, name, text);
    }
    free(text);
    return rc;
}

int
demo_write_files(demo_t *d)
{
    static const char *const others[2 + S_CUSTOMERS] = {"hub", "operator", "alice", "bob",
                                                         "carol"};
    int rc = 0, code = 0;
    for (int i = 0; rc == 0 && i < 2 + S_CUSTOMERS + DEMO_NFACTORIES; i++) {
        const char *name = i < 2 + S_CUSTOMERS ? others[i] : s_factories[i - 2 - S_CUSTOMERS].name;
        const char *argv[] = {"keygen", name, "--dir", "keys", NULL};
        rc = demo_run(d, argv, 10000, &code);
        if (rc == 0 && code != 0) {
            snprintf(d->why, sizeof d->why, "cofab keygen %s failed: %.300s", name, d->err);
            rc = COFAB_EIO;
        }
    }
    if (rc == 0)
        rc = demo_write_configs(d);
    for (int i = 0; rc == 0 && i < DEMO_NFACTORIES; i++) {
        char path[DEMO_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/keys/%s.pub", d->dir, s_factories[i].name);
        keys_public_t pub;
        if ((rc = keys_public_load(&pub, path)) != 0)
            snprintf(d->why, sizeof d->why, "%s: %s", path, cofab_strerror(rc));
        else
            memcpy(d->fkey[i], pub.sign_pk, 32);
    }
    for (size_t i = 0; rc == 0 && i < sizeof s_specs / sizeof s_specs[0]; i++)
        rc = s_write_order(d, i);
    return rc;
}

int
demo_factory_summary(const demo_t *d, int i, char *place, size_t pmax, char *offers, size_t omax)
{
    char *text = malloc(S_INI_MAX);
    config_node_t *cfg = malloc(sizeof *cfg);
    char err[256];
    int rc = text && cfg ? 0 : COFAB_ENOMEM;
    if (rc == 0) {
        s_node_ini(d, i, text, S_INI_MAX);
        rc = config_node_parse_string(text, strlen(text), NULL, cfg, err, sizeof err);
    }
    offers[0] = 0;
    if (rc == 0) {
        snprintf(place, pmax, "%s", cfg->location);
        for (size_t k = 0; k < cfg->noffers; k++) {
            const config_offer_t *o = &cfg->offers[k];
            size_t used = strlen(offers);
            snprintf(offers + used, omax - used, "%s%s (", k ? ", " : "", o->process);
            for (uint32_t m = 0; m < o->nmaterials; m++) {
                used = strlen(offers);
                snprintf(offers + used, omax - used, "%s%s", m ? ", " : "", o->materials[m]);
            }
            used = strlen(offers);
            snprintf(offers + used, omax - used, ")");
        }
    }
    free(cfg);
    free(text);
    return rc;
}
