/* cmd_audit_source.c — opens what an auditor points at: a ledger dir, an exported bundle or a hub. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "cmd_audit_internal.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/cli.h"
#include "cofab/error.h"

static int
s_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path) == 0 ? 0 : -1;
}

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

int
cmd_audit_open(const char *prog, const cmd_audit_source_t *src, cmd_audit_opened_t *out)
{
    memset(out, 0, sizeof *out);
    if (src->ledger) {
        snprintf(out->what, sizeof out->what, "%s", src->ledger);
        return s_open_dir(prog, src->ledger, out);
    }
    fprintf(stderr, "%s: --bundle and --hub are not available yet\n", prog);
    return CLI_USAGE;
}

void
cmd_audit_close(cmd_audit_opened_t *o)
{
    ledger_destroy(&o->ledger);
    if (o->tmp[0]) {
        nftw(o->tmp, s_remove, 8, FTW_DEPTH | FTW_PHYS);
        o->tmp[0] = 0;
    }
}
