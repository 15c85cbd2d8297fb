/* test_live_read.c — readers and the audit on a ledger another process appends to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/audit.h"
#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/util.h"
#include "support/fixture.h"

#define S_ORIGIN "example.org/live"
#define S_SMALL_MAP ((size_t) 256 << 10)  /* the writer's map: must grow several times */
#define S_PAYLOAD 3000                    /* bytes per note: one overflow page each */
#define S_CHILD_ALARM 600                 /* a writer never outlives a hung test */
#define S_WAIT_MS 120000                  /* longest wait for one writer step */
#define S_MAX_ROUNDS 100000               /* bound on the reading loop */

typedef struct {
    char dir[256];
    keys_t *hub;
    keys_t *author;
    envelope_chain_t chain;  /* the author's chain; the writer continues it */
    uint64_t size;           /* records written before the writer starts */
    pid_t child;             /* the writer, or -1 */
    int cmd[2];              /* parent -> writer: one byte per step */
    int ack[2];              /* writer -> parent: one byte per step done */
} s_state_t;

static int
s_setup(void **state)
{
    s_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    fixture_tmpdir(s->dir);
    s->hub = keys_generate("hub");
    s->author = keys_generate("author");
    envelope_chain_init(&s->chain);
    s->child = -1;
    s->cmd[0] = s->cmd[1] = s->ack[0] = s->ack[1] = -1;
    *state = s;
    return s->hub && s->author ? 0 : -1;
}

static void
s_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int
s_teardown(void **state)
{
    s_state_t *s = *state;
    if (s->child > 0) { /* a failed test left its writer running */
        kill(s->child, SIGKILL);
        waitpid(s->child, NULL, 0);
    }
    s_close(&s->cmd[0]);
    s_close(&s->cmd[1]);
    s_close(&s->ack[0]);
    s_close(&s->ack[1]);
    keys_destroy(&s->hub);
    keys_destroy(&s->author);
    fixture_rmtree(s->dir);
    free(s);
    return 0;
}

/* Appends n notes of S_PAYLOAD bytes in one batch, then signs a checkpoint. */
static int
s_append_notes(ledger_t *l, s_state_t *s, size_t n)
{
    uint8_t *bufs = malloc(n * ENVELOPE_MAX);
    envelope_t *envs = calloc(n, sizeof *envs);
    ledger_result_t *res = calloc(n, sizeof *res);
    char *text = malloc(S_PAYLOAD + 1);
    char note[LEDGER_CHECKPOINT_MAX];
    int rc = bufs && envs && res && text ? 0 : COFAB_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int k = snprintf(text, S_PAYLOAD + 1, "note %llu ", (unsigned long long) s->chain.next_seq);
        memset(text + k, 'x', S_PAYLOAD - (size_t) k);
        text[S_PAYLOAD] = 0;
        fixture_seal(&s->chain, s->author, ENVELOPE_NOTE, NULL, text, bufs + i * ENVELOPE_MAX,
                     &envs[i]);
    }
    if (rc == 0)
        rc = ledger_append(l, envs, n, util_now_ms(), res);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = res[i].code;
    if (rc == 0)
        rc = ledger_checkpoint_sign(l, s->hub, note, sizeof note);
    free(bufs);
    free(envs);
    free(res);
    free(text);
    return rc;
}

/* A ledger with a small map: genesis and `notes` notes, a checkpoint,
 * closed again. */
static void
s_create(s_state_t *s, size_t notes)
{
    uint8_t *buf = malloc(ENVELOPE_MAX);
    char note[LEDGER_CHECKPOINT_MAX];
    envelope_t g;
    ledger_t *l = NULL;
    ledger_options_t o = {.map_size = S_SMALL_MAP, .no_sync = 1};
    assert_non_null(buf);
    fixture_genesis(s->hub, S_ORIGIN, buf, &g);
    assert_int_equal(ledger_create(&l, s->dir, S_ORIGIN, &g, &o), 0);
    if (notes)
        assert_int_equal(s_append_notes(l, s, notes), 0);
    else
        assert_int_equal(ledger_checkpoint_sign(l, s->hub, note, sizeof note), 0);
    s->size = ledger_size(l);
    ledger_destroy(&l);
    free(buf);
}

/* The writer process: `steps` times, waits for a byte on cmd (EOF ends
 * it early), appends `per` notes and a checkpoint, answers on ack. Never
 * returns. */
static void
s_writer(s_state_t *s, int steps, size_t per)
{
    alarm(S_CHILD_ALARM);
    close(s->cmd[1]);
    close(s->ack[0]);
    ledger_options_t o = {.map_size = S_SMALL_MAP, .no_sync = 1};
    ledger_t *l = NULL;
    int rc = ledger_open(&l, s->dir, &o);
    for (int i = 0; rc == 0 && i < steps; i++) {
        char c;
        if (read(s->cmd[0], &c, 1) != 1)
            break;
        rc = s_append_notes(l, s, per);
        if (rc == 0 && write(s->ack[1], "k", 1) != 1)
            rc = COFAB_EIO;
    }
    if (rc != 0)
        fprintf(stderr, "writer: %s\n", cofab_strerror(rc));
    ledger_destroy(&l);
    _exit(rc == 0 ? 0 : 1);
}

/* Forks the writer; it waits for s_step() or s_go(). */
static void
s_fork_writer(s_state_t *s, int steps, size_t per)
{
    assert_int_equal(pipe(s->cmd), 0);
    assert_int_equal(pipe(s->ack), 0);
    s->child = fork();
    assert_true(s->child >= 0);
    if (s->child == 0)
        s_writer(s, steps, per);
    s_close(&s->cmd[0]);
    s_close(&s->ack[1]);
}

/* Lets the writer take n steps without waiting for them. */
static void
s_go(s_state_t *s, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(write(s->cmd[1], "g", 1), 1);
}

/* Waits (bounded) for one step's answer. Returns 0 when it came. */
static int
s_wait_ack(s_state_t *s)
{
    struct pollfd p = {.fd = s->ack[0], .events = POLLIN};
    char c;
    if (poll(&p, 1, S_WAIT_MS) != 1 || read(s->ack[0], &c, 1) != 1)
        return -1;
    return 0;
}

/* Reaps the writer, which must have exited 0. */
static void
s_reap(s_state_t *s)
{
    int status = 0;
    s_close(&s->cmd[1]);
    assert_int_equal(waitpid(s->child, &status, 0), s->child);
    s->child = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static ledger_t *
s_open_ro(const s_state_t *s)
{
    ledger_t *l = NULL;
    /* A map far smaller than the data: LMDB maps what exists, no more. */
    ledger_options_t o = {.read_only = 1, .map_size = (size_t) 64 << 10};
    assert_int_equal(ledger_open(&l, s->dir, &o), 0);
    return l;
}

/* Audits l, which must be valid; returns the size audited. The writer
 * signs a checkpoint after each step, in a transaction of its own: with
 * `settled` (no writer running) the latest one covers the whole size. */
static uint64_t
s_audit_valid(ledger_t *l, const audit_hook_t *hook, int settled)
{
    audit_report_t *r = malloc(sizeof *r);
    assert_non_null(r);
    audit_options_t opts = {.threads = 2, .hook = hook};
    int rc = audit_verify(l, &opts, r);
    int valid = r->valid, code = r->code;
    uint64_t size = r->size, records = r->records, latest = r->latest.size;
    char reason[sizeof r->reason];
    memcpy(reason, r->reason, sizeof reason);
    free(r);
    assert_int_equal(rc, 0);
    if (!valid)
        fail_msg("audit invalid: %s [%s]", reason, cofab_errname(code));
    assert_int_equal(records, size);
    assert_true(latest > 0 && latest <= size);
    if (settled)
        assert_int_equal(latest, size);
    return size;
}

/* Reads through every read path; each must work after the map grew. */
static void
s_read_all(ledger_t *l, uint64_t at_least)
{
    uint8_t *buf = NULL, hash[32];
    size_t len = 0;
    uint64_t seq = 0, aseq = 0, n = 0, size = 0;
    char note[LEDGER_CHECKPOINT_MAX];
    uint8_t root[32];
    assert_int_equal(ledger_get(l, 0, &buf, &len), 0);
    free(buf);
    assert_int_equal(ledger_checkpoint_latest(l, note, sizeof note), 0);
    assert_int_equal(ledger_root(l, ledger_size(l), root), 0);
    assert_int_equal(ledger_tree_node(l, 0, 0, root), 0);
    uint8_t none[32] = {1};
    assert_int_equal(ledger_author_last(l, none, &aseq, hash), 0);
    assert_int_equal(aseq, 0);
    assert_int_equal(ledger_state_get(l, "x", 1, note, sizeof note, &len), COFAB_ENOTFOUND);
    ledger_iter_t *it = ledger_iter_new(l, 0);
    assert_non_null(it);
    assert_int_equal(ledger_iter_size(it, &size), 0);
    const uint8_t *bytes;
    int rc;
    while ((rc = ledger_iter_next(it, &seq, &bytes, &len)) == 0)
        assert_int_equal(seq, n++);
    assert_int_equal(rc, COFAB_ENOTFOUND);
    ledger_iter_destroy(&it);
    assert_int_equal(n, size); /* the walk is the snapshot, whole */
    assert_true(size >= at_least);
}

/* The writer grows the map from 256 KiB to several MiB while this process
 * opens the ledger read-only again and again, reads and audits it: every
 * read and audit works, each audit is of a size the ledger really had, and
 * never older than the one before. One open at a time: LMDB forbids
 * opening one environment twice in a process. */
static void
test_read_and_audit_while_map_grows(void **state)
{
    s_state_t *s = *state;
    const int steps = 60;
    const size_t per = 10;
    s_create(s, 0);
    s_fork_writer(s, steps, per);
    s_go(s, steps);
    uint64_t last = 0;
    int rounds = 0;
    for (;; rounds++) {
        assert_true(rounds < S_MAX_ROUNDS);
        int status = 0;
        if (waitpid(s->child, &status, WNOHANG) == s->child) {
            s->child = -1;
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            break;
        }
        ledger_t *l = s_open_ro(s);
        uint64_t at_open = ledger_size(l);
        assert_true(at_open >= last);
        s_read_all(l, at_open);
        uint64_t size = s_audit_valid(l, NULL, 0);
        assert_true(size >= at_open);
        last = size;
        s_read_all(l, size); /* the map may have grown during the audit */
        ledger_destroy(&l);
    }
    uint64_t final = 1 + (uint64_t) steps * per;
    assert_true(last <= final);
    struct stat st;
    char path[300];
    snprintf(path, sizeof path, "%s/data.mdb", s->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > (off_t) (4 * S_SMALL_MAP)); /* the map had to grow */
    ledger_t *l = s_open_ro(s);
    assert_int_equal(ledger_size(l), final);
    s_read_all(l, final);
    assert_int_equal(s_audit_valid(l, NULL, 1), final);
    ledger_destroy(&l);
}

/* The writer grows the map sixteenfold after a read-only ledger was
 * opened; then every read path of that ledger must work. */
static void
test_reads_adopt_grown_map(void **state)
{
    s_state_t *s = *state;
    s_create(s, 5);
    s_fork_writer(s, 40, 30);
    ledger_t *l = s_open_ro(s);
    s_read_all(l, s->size);
    s_go(s, 40);
    for (int i = 0; i < 40; i++)
        assert_int_equal(s_wait_ack(s), 0);
    s_reap(s);
    uint64_t final = s->size + 40 * 30;
    s_read_all(l, final);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ledger_get(l, final - 1, &buf, &len), 0); /* beyond the size at open */
    free(buf);
    assert_int_equal(s_audit_valid(l, NULL, 1), final);
    ledger_destroy(&l);
}

/* The hook: at record `at`, the writer appends a step and the audit waits
 * for it, so those records come after the audit began. */
typedef struct {
    s_state_t *s;
    uint64_t at;       /* record at which to append */
    uint64_t seen;     /* records the hook was given */
    int appended;      /* 1 once the step is done */
} s_hook_ctx_t;

static int
s_hook_record(void *ctx, uint64_t pos, const ledger_record_t *rec, const envelope_t *e, char *why,
              size_t why_len, int64_t *bad, int64_t *related)
{
    (void) rec, (void) e, (void) bad, (void) related;
    s_hook_ctx_t *h = ctx;
    h->seen++;
    if (pos == h->at) {
        s_go(h->s, 1);
        if (s_wait_ack(h->s) != 0) {
            snprintf(why, why_len, "the writer did not answer");
            return COFAB_EIO; /* stops the audit: the test fails */
        }
        h->appended = 1;
    }
    return 0;
}

static int
s_hook_flush(void *ctx, int final, char *why, size_t why_len, int64_t *bad, int64_t *related)
{
    (void) ctx, (void) final, (void) why, (void) why_len, (void) bad, (void) related;
    return 0;
}

/* Records appended after the ledger was opened and before the audit began
 * are audited; records appended while the audit runs are not, and do not
 * make it invalid. */
static void
test_audit_is_one_snapshot(void **state)
{
    s_state_t *s = *state;
    s_create(s, 20);
    s_fork_writer(s, 3, 30);
    ledger_t *l = s_open_ro(s);
    assert_int_equal(ledger_size(l), 21);
    s_go(s, 1); /* after the open, before the audit */
    assert_int_equal(s_wait_ack(s), 0);

    s_hook_ctx_t h = {.s = s, .at = 5};
    audit_hook_t hook = {&h, s_hook_record, s_hook_flush};
    assert_int_equal(s_audit_valid(l, &hook, 1), 51);
    assert_true(h.appended);
    assert_int_equal(h.seen, 51);

    /* The next audit sees the records appended during the first. */
    h = (s_hook_ctx_t){.s = s, .at = UINT64_MAX};
    audit_report_t *r = malloc(sizeof *r);
    assert_non_null(r);
    audit_options_t opts = {.threads = 1, .hook = &hook};
    assert_int_equal(audit_verify(l, &opts, r), 0);
    assert_true(r->valid);
    assert_int_equal(r->size, 81);
    assert_int_equal(r->checkpoints, 3); /* at 21, 51 and 81 */
    assert_int_equal(h.seen, 81);
    free(r);
    ledger_destroy(&l);
    s_reap(s);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_audit_is_one_snapshot, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reads_adopt_grown_map, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_read_and_audit_while_map_grows, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
