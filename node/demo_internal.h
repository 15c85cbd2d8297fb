/* demo_internal.h — private to `cofab demo` (node/cmd_demo.c, node/demo_*.c): the run's state and helpers.
 *
 * The demo runs a real alliance: the hub and five factory nodes are child
 * processes of this same binary (fork + execv of /proc/self/exe), each
 * writing its log in DIR/logs; customers and factory operators are short
 * CLI children (`cofab order ...`, `cofab factory ...`), run from DIR so the
 * commands shown to the reader are exactly the ones executed. The demo
 * watches progress by opening the hub's ledger read-only between steps.
 *
 * Every wait has a deadline. SIGINT, SIGTERM and SIGHUP are blocked in the
 * demo process and polled while it waits (sigtimedwait doubles as its
 * sleep), so an interrupt is handled like any failure: children stopped,
 * DIR removed, exit 1. Children unblock them before exec.
 */
#ifndef COFAB_DEMO_INTERNAL_H
#define COFAB_DEMO_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cofab/ledger.h"

#define DEMO_NFACTORIES 5
#define DEMO_MAX_ORDERS 24
#define DEMO_MAX_ITEMS 2
#define DEMO_MAX_ARGS 16
#define DEMO_PATH_MAX 400       /* paths in the temporary directory */
#define DEMO_OUT_MAX 16384      /* captured stdout (and stderr) of one command */
#define DEMO_ACK_TIMEOUT_S 5    /* the alliance's acceptance timeout in the demo */
#define DEMO_WITNESS_K 3        /* cosignatures a checkpoint needs: a strict majority of 5 */

/* A long-running child: the hub or a factory node. */
typedef struct {
    char name[32];              /* "hub" or the factory's name */
    pid_t pid;                  /* running process, 0 when not running */
    char log[DEMO_PATH_MAX + 32]; /* its stdout+stderr, appended across restarts */
} demo_proc_t;

/* What an order is for in the story. */
typedef enum {
    DEMO_PLAIN = 0,             /* placed, made, delivered */
    DEMO_SPLIT,                 /* too big for one factory: split across two */
    DEMO_UNPLACED,              /* nobody can make it */
    DEMO_CANCEL,                /* the customer cancels it */
    DEMO_REASSIGN,              /* lands on the factory that is down */
} demo_role_t;

/* One order of the story (constant data). */
typedef struct {
    const char *customer;       /* key name of the customer */
    const char *title;          /* what it is */
    const char *process[DEMO_MAX_ITEMS]; /* items; NULL after the last */
    const char *material[DEMO_MAX_ITEMS];
    int qty[DEMO_MAX_ITEMS];
    int due_in_days;            /* from today */
    double lat, lon;            /* delivery point */
    const char *place;          /* its name */
    int split;                  /* may be split across factories */
    int batch;                  /* 1: before the power cut, 2: while it lasts, 3: after */
    demo_role_t role;           /* its part in the story */
} demo_spec_t;

/* A founding factory (constant data; the bodies are config/factory-*.ini's). */
typedef struct {
    const char *name;           /* member, key and file name */
    const char *body;           /* [capacity] and [offer.*] sections */
} demo_factory_def_t;

/* What became of one order, as the hub's ledger tells it. */
typedef struct {
    const demo_spec_t *spec;    /* the order */
    char id[65];                /* order id in hex, "" until acknowledged */
    int state;                  /* policy_state_t, 0 until seen */
    char made_by[160];          /* "garments" or "embroidery 3000 + garments 1000" */
    int nfactories;             /* factories of the current assignment */
    int factory[DEMO_NFACTORIES]; /* their indexes in demo_t.nodes */
    int first;                  /* index of the first factory it was assigned to, -1 */
    int reassigned;             /* a reassign record exists */
    char why[32];               /* its reason ("timeout") */
    int left;                   /* index of the factory it left, -1 */
    int stages[DEMO_NFACTORIES]; /* stages reported, by factory index (0..4) */
} demo_order_t;

/* The whole run. */
typedef struct {
    char exe[DEMO_PATH_MAX];    /* this binary, run for every child */
    char dir[DEMO_PATH_MAX];    /* the temporary directory of the run */
    int keep;                   /* --keep: leave the alliance running */
    int color;                  /* stdout is a terminal */
    sigset_t sigs;              /* SIGINT, SIGTERM, SIGHUP: blocked, polled */
    int interrupted;            /* the signal that arrived, 0 none */
    uint64_t t0_ns;             /* start, for step times */
    int step;                   /* story step number */
    char title[80];             /* its title, for a failure message */
    int progress_shown;         /* a `factory progress` command was shown */
    char submit[64];            /* hub submit endpoint */
    char feed[64];              /* hub feed endpoint */
    demo_proc_t hub;            /* the hub */
    demo_proc_t nodes[DEMO_NFACTORIES]; /* the factories, in demo_factories() order */
    uint8_t fkey[DEMO_NFACTORIES][32];  /* their signing keys */
    demo_order_t orders[DEMO_MAX_ORDERS]; /* in demo_specs() order */
    size_t norders;             /* how many */
    char verdict[200];          /* the audits in one line, for the summary */
    char why[600];              /* what failed, for the final message */
    const char *culprit;        /* log to show when it failed, or NULL */
    char out[DEMO_OUT_MAX];     /* stdout of the last short command */
    char err[DEMO_OUT_MAX];     /* its stderr */
} demo_t;

/* ---- demo_proc.c: processes, signals, the temporary directory ---- */

/* Zeroes d, finds this binary, blocks the signals, creates the temporary
 * directory (under $TMPDIR or /tmp) with logs/ in it. Returns 0, or
 * COFAB_EIO with d->why set. */
int demo_init(demo_t *d, int keep);

/* Seconds since demo_init(). */
double demo_elapsed(const demo_t *d);

/* Sleeps up to ms, returning early with COFAB_ESTATE (d->why set) when a
 * signal arrived or a running long child exited on its own. Returns 0. */
int demo_sleep(demo_t *d, int ms);

/* Starts p (name and log already set) as `cofab ARGV...` in d->dir, its
 * output appended to p->log, in its own session; unless --keep it is sent
 * SIGTERM if the demo dies. Returns 0 or COFAB_EIO (d->why set). */
int demo_start(demo_t *d, demo_proc_t *p, const char *const *argv);

/* Runs `cofab ARGV...` in d->dir, its stdout in d->out and stderr in
 * d->err (truncated to DEMO_OUT_MAX - 1 bytes), killed after timeout_ms.
 * *code gets its exit status (-1 killed). Also appends both to
 * logs/commands.log. Returns 0 when it ran to its end (whatever its exit
 * status), COFAB_ENET on timeout, COFAB_ESTATE on a signal, COFAB_EIO. */
int demo_run(demo_t *d, const char *const *argv, int timeout_ms, int *code);

/* Sends sig to p and reaps it within timeout_ms (SIGKILL after that). */
void demo_kill(demo_t *d, demo_proc_t *p, int sig, int timeout_ms);

/* Stops every running child: SIGTERM to the nodes, then the hub, SIGKILL to
 * any still running after a few seconds; reaps them all. */
void demo_stop_all(demo_t *d);

/* Removes d->dir and everything in it. Returns 0 or COFAB_EIO. */
int demo_remove_dir(const demo_t *d);

/* A TCP port on 127.0.0.1 that was free a moment ago (> 0), or COFAB_EIO. */
int demo_free_port(void);

/* Prints the last `lines` lines of the file at path, indented, to stderr. */
void demo_tail(const char *path, int lines);

/* How many lines of the file at path contain needle (0 if it cannot be
 * read); the last of them goes to line (NUL-terminated, no newline). */
int demo_grep(const char *path, const char *needle, char *line, size_t max);

/* ---- demo_setup.c: the alliance's data, keys and configuration files ---- */

/* The five founding factories, in the order they are shown. */
const demo_factory_def_t *demo_factories(void);

/* The orders of the story; *n gets how many. */
const demo_spec_t *demo_specs(size_t *n);

/* Keys (keygen children), hub.ini, factory-NAME.ini and orders/NN.json in
 * d->dir, with d->submit and d->feed already chosen; loads the factories'
 * signing keys into d->fkey. Returns 0 or a cofab code (d->why set). */
int demo_write_files(demo_t *d);

/* hub.ini and factory-NAME.ini for d->submit and d->feed (again after a
 * failed start). Returns 0 or COFAB_EIO / COFAB_ENOMEM (d->why set). */
int demo_write_configs(demo_t *d);

/* "Porto, Portugal" and "sewing (cotton, linen, denim), embroidery
 * (cotton)" of factory i, from its configuration. Returns 0 or COFAB_EMALFORMED. */
int demo_factory_summary(const demo_t *d, int i, char *place, size_t pmax, char *offers,
                         size_t omax);

/* "120 sewing/cotton + 60 embroidery/cotton". */
void demo_spec_items(const demo_spec_t *s, char *out, size_t max);

/* ---- demo_report.c: the story's printing, the customer's view, audits, summary ---- */

enum { DEMO_BOLD, DEMO_DIM, DEMO_GREEN, DEMO_RED, DEMO_OFF };

/* An ANSI attribute when stdout is a terminal, else "". */
const char *demo_c(const demo_t *d, int what);

/* Starts the next numbered step of the story. */
void demo_step(demo_t *d, const char *title);

/* A paragraph, indented and wrapped at 80 columns. */
void demo_say(const demo_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "    $ cofab ARGV... SUFFIX", as run (from d->dir). */
void demo_show_cmd(const demo_t *d, const char *const *argv, const char *suffix);

/* Step: carol follows one order with `cofab order status`. */
int demo_customer_view(demo_t *d, const demo_order_t *o);

/* Step: replicas in sync, the alliance stopped (unless --keep), audits of
 * the hub's ledger and of the replica of factory `replica`. */
int demo_audit(demo_t *d, int replica);

/* The table of orders and the totals. */
void demo_summary(demo_t *d);

/* ---- demo_orders.c: the customers' and factories' steps ---- */

/* Submits the orders of `batch`, shows them, waits until each is accepted
 * (or, for the unplaced one, reported unplaced; for the one meant for a
 * factory that is down, assigned) and shows where they went. */
int demo_orders_batch(demo_t *d, int batch, int explain);

/* The customer of the DEMO_CANCEL order cancels it. */
int demo_cancel(demo_t *d);

/* Every accepted order of batches <= max_batch moves on to `upto` (1..4,
 * in-production..delivered) at each of its factories; factory `slow`
 * (-1 none) only to `slow_upto`. Shows what each factory did. */
int demo_produce(demo_t *d, int max_batch, int upto, int slow, int slow_upto);

/* Waits for the DEMO_REASSIGN order to be reassigned and accepted. */
int demo_wait_reassigned(demo_t *d);

/* The order of the story with this role, or NULL. */
demo_order_t *demo_order_by_role(demo_t *d, demo_role_t role);

/* ---- demo_watch.c: read-only views of the ledgers ---- */

/* Opens DIR/data/NAME read-only. Returns 0 or ledger_open()'s code. */
int demo_ledger_open(const demo_t *d, const char *name, ledger_t **out);

/* Records in DIR/data/NAME, or 0 if it cannot be opened. */
uint64_t demo_ledger_size(const demo_t *d, const char *name);

/* The tree size of the latest checkpoint stored in DIR/data/NAME and how
 * many witnesses cosigned it. Returns 0, COFAB_ENOTFOUND (none yet) or
 * another ledger code. */
int demo_checkpoint(const demo_t *d, const char *name, uint64_t *size, int *cosigned);

/* How many of the factories have a capacity record in the hub's ledger,
 * or a negative code. */
int demo_capacities(const demo_t *d);

/* Refreshes every acknowledged order from the hub's ledger. Returns 0 or
 * a cofab code. */
int demo_refresh(demo_t *d);

/* Index of the factory with this name, or -1. */
int demo_factory_index(const demo_t *d, const char *name);

#endif
