/* fuzz_config.c — libFuzzer target for the hub and factory configuration parsers (in memory, no disk). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/config.h"
#include "cofab/error.h"
#include "cofab/matcher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE "/etc/cofab"

/* A message is one line of printable text, never empty on failure. */
static void
s_check_err(int rc, const char *err, size_t errlen)
{
    size_t n = strnlen(err, errlen);
    if (n == errlen || (rc == 0) != (n == 0))
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) err[i] < 0x20 || err[i] == 0x7f)
            abort();
    if (rc != 0 && rc != COFAB_EMALFORMED && rc != COFAB_ETOOBIG)
        abort();
}

/* 1 if s is a NUL-terminated string of 1..size-1 bytes. */
static int
s_str(const char *s, size_t size)
{
    size_t n = strnlen(s, size);
    return n > 0 && n < size;
}

/* Paths were joined to BASE unless absolute: either way absolute here. */
static int
s_path(const char *s, size_t size)
{
    return s_str(s, size) && s[0] == '/';
}

static void
s_check_hub(const config_hub_t *h)
{
    if (!s_str(h->origin, sizeof h->origin) || !s_path(h->data_dir, sizeof h->data_dir) ||
        !s_path(h->key, sizeof h->key) || !s_path(h->operator_pub, sizeof h->operator_pub) ||
        !strstr(h->submit, "://") || !strstr(h->feed, "://") || h->max_batch < 1 ||
        h->verify_threads < 1 || h->ack_timeout_s < 1 || h->nmembers > CONFIG_MAX_MEMBERS ||
        h->witness_k > h->nmembers || matcher_params_check(&h->params) != 0 ||
        (strcmp(h->customers, "open") != 0 && strcmp(h->customers, "listed") != 0))
        abort();
    for (size_t i = 0; i < h->nmembers; i++) {
        if (!s_str(h->members[i].name, sizeof h->members[i].name) ||
            !s_path(h->members[i].pub, sizeof h->members[i].pub))
            abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(h->members[i].name, h->members[j].name) == 0)
                abort();
    }
}

static void
s_check_node(const config_node_t *n)
{
    if (!s_str(n->name, sizeof n->name) || !s_path(n->key, sizeof n->key) ||
        !s_path(n->hub_pub, sizeof n->hub_pub) || !s_path(n->data_dir, sizeof n->data_dir) ||
        strncmp(n->control, "ipc://", 6) != 0 || !(n->lat >= -90 && n->lat <= 90) ||
        !(n->lon >= -180 && n->lon <= 180) || n->lead_days < 0 ||
        n->lead_days > MATCHER_MAX_LEAD || n->reserve_pct < -1 || n->reserve_pct > 100 ||
        n->horizon_days < 1 || n->horizon_days > MATCHER_MAX_HORIZON || n->valid_days < 1 ||
        n->valid_days > n->horizon_days || n->noffers < 1 || n->noffers > CONFIG_MAX_OFFERS ||
        strnlen(n->location, sizeof n->location) > 64 || (n->auto_accept & ~1) ||
        (n->witness & ~1))
        abort();
    for (size_t i = 0; i < n->noffers; i++) {
        const config_offer_t *o = &n->offers[i];
        if (!s_str(o->process, sizeof o->process) || o->nmaterials < 1 ||
            o->nmaterials > MATCHER_MAX_MATERIALS || o->unit_price < 0 ||
            o->unit_price > MATCHER_MAX_PRICE || o->setup_cost < 0 ||
            o->setup_cost > MATCHER_MAX_SETUP || o->moq < 1 || o->max_qty < o->moq ||
            o->max_qty > MATCHER_MAX_QTY || o->per_day < 0 || o->per_day > MATCHER_MAX_CAP ||
            o->days_off > 0x7f)
            abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->process, n->offers[j].process) == 0)
                abort();
        for (uint32_t m = 0; m < o->nmaterials; m++)
            if (!s_str(o->materials[m], sizeof o->materials[m]))
                abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The configs are large (about 140 KiB together): keep them off the stack. */
    config_hub_t *hub = malloc(sizeof *hub);
    config_node_t *node = malloc(sizeof *node);
    char err[256];
    if (!hub || !node)
        goto out;
    int rc = config_hub_parse_string((const char *) data, size, BASE, hub, err, sizeof err);
    s_check_err(rc, err, sizeof err);
    if (rc == 0)
        s_check_hub(hub);
    rc = config_node_parse_string((const char *) data, size, BASE, node, err, sizeof err);
    s_check_err(rc, err, sizeof err);
    if (rc == 0)
        s_check_node(node);
out:
    free(hub);
    free(node);
    return 0;
}
