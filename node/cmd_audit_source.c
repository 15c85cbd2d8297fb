/* cmd_audit_source.c — opens what an auditor points at: a ledger dir, an exported bundle or a hub. */
#include "cmd_audit_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/cli.h"
#include "cofab/error.h"
#include "cofab/util.h"
#include "cofab/fetch.h"
#include "cofab/keys.h"
#include "cofab/tiles.h"


static int
s_open_dir(const char *prog, const char *dir, cmd_audit_opened_t *out)
{
    ledger_options_t o = {.read_only = 1};
    int rc = ledger_open(&out->ledger, dir, &o);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot open ledger %s: %s\n", prog, dir, cofab_strerror(rc));
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* A temp dir of our own, removed again by cmd_audit_close(). */
static int
s_make_tmp(const char *prog, cmd_audit_opened_t *out)
{
    if (util_make_temp_dir(NULL, "cofab-audit-copy", out->tmp, sizeof out->tmp) != 0) {
        fprintf(stderr, "%s: cannot make a temp dir: %s\n", prog, strerror(errno));
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* Downloads (or, into --cache, resumes downloading) the hub's ledger,
 * every record verified on the way, then opens the copy. */
static int
s_open_hub(const char *prog, const cmd_audit_source_t *src, cmd_audit_opened_t *out)
{
    if (!src->hub_pub) {
        fprintf(stderr, "%s: --hub needs --hub-key HUB.pub to know whom to trust\n", prog);
        return CLI_USAGE;
    }
    keys_public_t hub;
    int rc = keys_public_load(&hub, src->hub_pub);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, src->hub_pub, cofab_strerror(rc));
        return CLI_USAGE;
    }
    keys_t *keys = NULL;
    if (src->key && !(keys = cli_load_key(prog, src->key)))
        return CLI_USAGE;
    const char *dir = src->cache;
    int ret = CLI_OK;
    if (!dir) {
        ret = s_make_tmp(prog, out);
        dir = out->tmp;
    }
    fetch_report_t *rep = calloc(1, sizeof *rep);
    if (ret == CLI_OK && !rep)
        ret = CLI_FAIL;
    if (ret == CLI_OK) {
        cli_progress_t progress;
        cli_progress_init(&progress, "downloading");
        fetch_options_t fo = {.progress = cli_progress_update, .progress_ctx = &progress};
        rc = fetch_ledger(src->hub, &hub, keys, dir, &fo, rep);
        cli_progress_done(&progress);
        if (rc != 0) {
            fprintf(stderr, "%s: download from %s failed: %s%s%s\n", prog, src->hub,
                    cofab_strerror(rc), rep->reason[0] ? ": " : "", rep->reason);
            if (rc == COFAB_ENET && !src->key)
                fprintf(stderr, "%s: (if the alliance lists its customers, pass --key)\n", prog);
            ret = rc == COFAB_ENET ? CLI_UNREACHABLE : CLI_FAIL;
        } else {
            fprintf(stderr, "%s: %llu records from %s (%llu new), checkpoint %llu\n", prog,
                    (unsigned long long) rep->size, src->hub, (unsigned long long) rep->fetched,
                    (unsigned long long) rep->checkpoint_size);
        }
    }
    free(rep);
    keys_destroy(&keys);
    /* Truncation only shortens the name shown in the report. */
    int n = snprintf(out->what, sizeof out->what, "%.1000s (copy in %.2000s)", src->hub, dir);
    (void) n;
    return ret == CLI_OK ? s_open_dir(prog, dir, out) : ret;
}

/* Checks every tile of an export bundle against its entries and rebuilds
 * a ledger from them in a temp dir, which the audit then verifies. */
static int
s_open_bundle(const char *prog, const cmd_audit_source_t *src, cmd_audit_opened_t *out)
{
    int ret = s_make_tmp(prog, out);
    tiles_import_report_t *rep = calloc(1, sizeof *rep);
    if (ret == CLI_OK && !rep)
        ret = CLI_FAIL;
    if (ret == CLI_OK && tiles_import(src->bundle, out->tmp, rep) != 0) {
        fprintf(stderr, "%s: bundle %s %s: %s%s%s\n", prog, src->bundle,
                rep->bad_bundle ? "does not check out" : "could not be read",
                cofab_strerror(rep->code), rep->reason[0] ? ": " : "", rep->reason);
        if (rep->bad_path[0])
            fprintf(stderr, "%s: the file at fault: %s/%s\n", prog, src->bundle, rep->bad_path);
        ret = CLI_FAIL;
    }
    free(rep);
    int n = snprintf(out->what, sizeof out->what, "bundle %.3000s", src->bundle);
    (void) n;
    return ret == CLI_OK ? s_open_dir(prog, out->tmp, out) : ret;
}

int
cmd_audit_open(const char *prog, const cmd_audit_source_t *src, cmd_audit_opened_t *out)
{
    memset(out, 0, sizeof *out);
    if (src->ledger) {
        snprintf(out->what, sizeof out->what, "%s", src->ledger);
        return s_open_dir(prog, src->ledger, out);
    }
    if (src->hub)
        return s_open_hub(prog, src, out);
    return s_open_bundle(prog, src, out);
}

void
cmd_audit_close(cmd_audit_opened_t *o)
{
    ledger_destroy(&o->ledger);
    if (o->tmp[0]) {
        util_remove_tree(o->tmp);
        o->tmp[0] = 0;
    }
}
