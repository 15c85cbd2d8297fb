/* test_crash.c — SIGKILL an appending process at random moments; nothing acknowledged is lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/audit.h"
#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/util.h"
#include "support/fixture.h"

#define S_ROUNDS 24
#define S_MAX_ACKS 200000

/* The child: appends batches forever, writing each acknowledged position
 * to fd only after ledger_append() has returned (i.e. after commit). */
static void
s_child(const char *dir, keys_t *hub, keys_t *author, int fd, uint32_t seed)
{
    ledger_t *l = NULL;
    if (ledger_open(&l, dir, NULL) != 0)
        _exit(10);
    envelope_chain_t c;
    if (ledger_author_last(l, keys_sign_pk(author), &c.next_seq, c.prev) != 0)
        _exit(11);
    c.next_seq++;
    uint8_t *bufs = malloc(16 * 512);
    envelope_t envs[16];
    ledger_result_t res[16];
    char note[LEDGER_CHECKPOINT_MAX];
    for (uint32_t round = 0;; round++) {
        size_t n = 1 + (seed + round * 7u) % 16;
        for (size_t i = 0; i < n; i++) {
            char text[64];
            snprintf(text, sizeof text, "crash-test payload %llu",
                     (unsigned long long) c.next_seq);
            fixture_seal(&c, author, ENVELOPE_NOTE, NULL, text, bufs + i * 512, &envs[i]);
        }
        if (ledger_append(l, envs, n, util_now_ms(), res) != 0)
            _exit(12);
        for (size_t i = 0; i < n; i++) {
            if (res[i].code != 0)
                _exit(13);
            uint64_t seq = res[i].seq;
            if (write(fd, &seq, sizeof seq) != sizeof seq)
                _exit(14);
        }
        if (round % 5 == 0 && ledger_checkpoint_sign(l, hub, note, sizeof note) != 0)
            _exit(15);
    }
}

static void
test_sigkill_loses_nothing_acknowledged(void **state)
{
    (void) state;
    char dir[256];
    fixture_tmpdir(dir);
    keys_t *hub = keys_generate("hub"), *author = keys_generate("writer");
    keys_t *authors[1] = {author};
    ledger_t *l = fixture_ledger(dir, hub, authors, 1, 3, 0);
    ledger_destroy(&l);

    uint64_t *acked = malloc(S_MAX_ACKS * sizeof *acked);
    size_t nacked = 0;
    unsigned seed = (unsigned) time(NULL);
    if (getenv("COFAB_CRASH_SEED"))
        seed = (unsigned) strtoul(getenv("COFAB_CRASH_SEED"), NULL, 10);
    printf("crash test seed %u (set COFAB_CRASH_SEED to repeat)\n", seed);
    srand(seed);
    int valgrind = getenv("COFAB_UNDER_VALGRIND") != NULL;

    for (int round = 0; round < S_ROUNDS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            s_child(dir, hub, author, fds[1], (uint32_t) rand());
        }
        close(fds[1]);
        /* Let it run 5..120 ms (longer under valgrind), then kill it mid-flight. */
        int wait_ms = 5 + rand() % 116;
        uint64_t deadline = util_mono_ns() + (uint64_t) wait_ms * (valgrind ? 20 : 1) * 1000000u;
        while (util_mono_ns() < deadline) {
            struct pollfd p = {fds[0], POLLIN, 0};
            if (poll(&p, 1, 5) > 0) {
                uint64_t seq;
                ssize_t got = read(fds[0], &seq, sizeof seq);
                if (got == sizeof seq && nacked < S_MAX_ACKS)
                    acked[nacked++] = seq;
                else if (got <= 0)
                    break;
            }
        }
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        /* Acks already in the pipe were sent after commit: count them too. */
        uint64_t seq;
        while (read(fds[0], &seq, sizeof seq) == sizeof seq && nacked < S_MAX_ACKS)
            acked[nacked++] = seq;
        close(fds[0]);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        /* Reopen: every acknowledged record is there, and the audit passes. */
        assert_int_equal(ledger_open(&l, dir, NULL), 0);
        uint64_t size = ledger_size(l);
        for (size_t i = 0; i < nacked; i++) {
            uint8_t *rec = NULL;
            size_t len;
            assert_true(acked[i] < size);
            assert_int_equal(ledger_get(l, acked[i], &rec, &len), 0);
            free(rec);
        }
        audit_report_t r;
        assert_int_equal(audit_verify(l, NULL, &r), 0);
        if (!r.valid)
            fail_msg("round %d: audit failed: %s", round, r.reason);
        ledger_destroy(&l);
    }
    printf("crash test: %d rounds, %zu acknowledged records, all present; audit valid each time\n",
           S_ROUNDS, nacked);
    assert_true(nacked > 0);
    free(acked);
    keys_destroy(&hub);
    keys_destroy(&author);
    fixture_rmtree(dir);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_loses_nothing_acknowledged),
    };
    return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
