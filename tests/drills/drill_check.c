/* drill_check.c — test-only checker for the fault drills: reads a ledger (read-only) and the clients' ack logs, prints key=value facts.
 *
 * usage:
 *   drill_check acks LEDGER ACKLOG...
 *       Every acknowledged (position, envelope hash) of the logs (drill_client
 *       format) must be the envelope stored at that position. Prints
 *       records= acked= unique= lost= misplaced= conflicting= duplicates=;
 *       `duplicates` counts envelopes stored more than once in the whole
 *       ledger. Exit 1 when anything is lost, misplaced or duplicated.
 *   drill_check account LEDGER [--acks LOG]... [--refused LOG]... [--author PUB]...
 *       Accounts for every record: its envelope was acknowledged to some
 *       client (an ack log), or its author is the hub or one of the given
 *       .pub keys (nodes, whose records the drill does not log). Envelope
 *       hashes listed in a refused log (one hex hash per line) must be
 *       absent. Prints records= acked= allowed= unaccounted= refused=
 *       refused_present=. Exit 1 on any unaccounted or refused-but-present.
 *   drill_check orders LEDGER
 *       Order states from the derived state: orders= submitted= assigned=
 *       accepted= in-production= qc-passed= shipped= delivered= cancelled=
 *       declined= reassigned= (orders that left at least one factory).
 *   drill_check checkpoint LEDGER     latest stored checkpoint
 *   drill_check note FILE             a signed note file (last-cosigned.note)
 *       Both print size= root= cosignatures= (signature lines after the first).
 *   drill_check digest LEDGER [FROM [COUNT]]
 *       records= sha256= over the record bytes of [FROM, FROM+COUNT).
 *
 * Exit 2 on a usage error or a ledger that cannot be read (tried 4 times:
 * a read of a live ledger fails when the hub grows its map meanwhile).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"
#include "cofab/note.h"
#include "cofab/policy.h"
#include "cofab/util.h"

#define S_MAX_LOGS 64
#define S_MAX_AUTHORS 64

/* One stored envelope: its hash and where it is. */
typedef struct {
    uint8_t hash[32];    /* SHA-256 of the envelope bytes */
    uint64_t seq;        /* ledger position */
} s_entry_t;

/* A growing array of entries. */
typedef struct {
    s_entry_t *v;        /* malloc'd */
    size_t n, cap;       /* used, allocated */
} s_table_t;

static int
s_push(s_table_t *t, const uint8_t hash[32], uint64_t seq)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        s_entry_t *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return COFAB_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    memcpy(t->v[t->n].hash, hash, 32);
    t->v[t->n++].seq = seq;
    return 0;
}

static int
s_cmp(const void *a, const void *b)
{
    const s_entry_t *x = a, *y = b;
    int c = memcmp(x->hash, y->hash, 32);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
s_sort(s_table_t *t)
{
    if (t->n)
        qsort(t->v, t->n, sizeof *t->v, s_cmp);
}

/* First entry with this hash, or NULL. */
static const s_entry_t *
s_find(const s_table_t *t, const uint8_t hash[32])
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(t->v[mid].hash, hash, 32) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n && memcmp(t->v[lo].hash, hash, 32) == 0 ? &t->v[lo] : NULL;
}

static int
s_open(const char *dir, ledger_t **out)
{
    ledger_options_t o = {.read_only = 1};
    int rc = ledger_open(out, dir, &o);
    if (rc != 0)
        fprintf(stderr, "drill_check: ledger %s: %s\n", dir, cofab_strerror(rc));
    return rc;
}

/* Every record's envelope hash and author; authors go to `authors` (may be
 * NULL) in ledger order. */
static int
s_scan(ledger_t *ledger, s_table_t *stored, s_table_t *authors)
{
    ledger_iter_t *it = ledger_iter_new(ledger, 0);
    if (!it)
        return COFAB_ESTORE;
    uint64_t seq;
    const uint8_t *bytes;
    size_t len;
    int rc;
    while ((rc = ledger_iter_next(it, &seq, &bytes, &len)) == 0) {
        ledger_record_t r;
        envelope_t e;
        uint8_t hash[32];
        rc = ledger_record_decode(&r, bytes, len);
        if (rc == 0)
            rc = envelope_decode(&e, r.envelope, r.envelope_len);
        if (rc != 0) {
            fprintf(stderr, "drill_check: record %llu does not decode: %s\n",
                    (unsigned long long) seq, cofab_strerror(rc));
            break;
        }
        crypto_hash_sha256(hash, r.envelope, r.envelope_len);
        rc = s_push(stored, hash, seq);
        if (rc == 0 && authors)
            rc = s_push(authors, e.author, seq);
        if (rc != 0)
            break;
    }
    ledger_iter_destroy(&it);
    return rc == COFAB_ENOTFOUND ? 0 : rc;
}

/* Reads the ack log lines "<pos> <hash hex> ..." into t. */
static int
s_read_acks(const char *path, s_table_t *t)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "drill_check: cannot read %s\n", path);
        return COFAB_EIO;
    }
    char line[512];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        unsigned long long pos;
        char hex[65];
        uint8_t hash[32];
        size_t bin = 0;
        if (!strchr(line, '\n'))
            break; /* a line still being written: not an ack yet */
        if (sscanf(line, "%llu %64s", &pos, hex) != 2 ||
            sodium_hex2bin(hash, 32, hex, 64, NULL, &bin, NULL) != 0 || bin != 32) {
            fprintf(stderr, "drill_check: %s: bad line: %s", path, line);
            rc = COFAB_EMALFORMED;
            break;
        }
        rc = s_push(t, hash, pos);
    }
    fclose(f);
    return rc;
}

/* Duplicated hashes in a sorted table (each extra copy counts). */
static uint64_t
s_duplicates(const s_table_t *t)
{
    uint64_t d = 0;
    for (size_t i = 1; i < t->n; i++)
        d += memcmp(t->v[i].hash, t->v[i - 1].hash, 32) == 0;
    return d;
}

static int
s_cmd_acks(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    ledger_t *ledger = NULL;
    s_table_t stored = {0}, acks = {0};
    int rc = s_open(argv[1], &ledger);
    if (rc == 0)
        rc = s_scan(ledger, &stored, NULL);
    for (int i = 2; rc == 0 && i < argc; i++)
        rc = s_read_acks(argv[i], &acks);
    if (rc != 0) {
        ledger_destroy(&ledger);
        free(stored.v);
        free(acks.v);
        return 2;
    }
    s_sort(&stored);
    s_sort(&acks);
    uint64_t lost = 0, misplaced = 0, conflicting = 0, unique = 0;
    for (size_t i = 0; i < acks.n; i++) {
        if (i > 0 && memcmp(acks.v[i].hash, acks.v[i - 1].hash, 32) == 0) {
            /* The same envelope acknowledged twice (a resend answered as a
             * duplicate) must carry the same position both times. */
            conflicting += acks.v[i].seq != acks.v[i - 1].seq;
            continue;
        }
        unique++;
        const s_entry_t *at = s_find(&stored, acks.v[i].hash);
        if (!at) {
            if (lost++ < 5)
                fprintf(stderr, "drill_check: LOST: acked at %llu, not in the ledger\n",
                        (unsigned long long) acks.v[i].seq);
        } else if (at->seq != acks.v[i].seq) {
            if (misplaced++ < 5)
                fprintf(stderr, "drill_check: MISPLACED: acked at %llu, stored at %llu\n",
                        (unsigned long long) acks.v[i].seq, (unsigned long long) at->seq);
        }
    }
    uint64_t dups = s_duplicates(&stored);
    printf("records=%llu acked=%zu unique=%llu lost=%llu misplaced=%llu conflicting=%llu "
           "duplicates=%llu\n",
           (unsigned long long) ledger_size(ledger), acks.n, (unsigned long long) unique,
           (unsigned long long) lost, (unsigned long long) misplaced,
           (unsigned long long) conflicting, (unsigned long long) dups);
    ledger_destroy(&ledger);
    free(stored.v);
    free(acks.v);
    return lost || misplaced || conflicting || dups ? 1 : 0;
}

/* Reads a refused log: one envelope hash in hex per line. */
static int
s_read_refused(const char *path, s_table_t *t)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return COFAB_EIO;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        uint8_t hash[32];
        size_t bin = 0;
        if (sodium_hex2bin(hash, 32, line, strcspn(line, " \n"), NULL, &bin, NULL) == 0 &&
            bin == 32 && s_push(t, hash, 0) != 0)
            break;
    }
    fclose(f);
    return 0;
}

/* One line about record seq on stderr: kind, author, author sequence, subject. */
static void
s_describe(ledger_t *ledger, uint64_t seq, const char *what)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ledger_record_t r;
    envelope_t e;
    char author[17] = "?", subject[17] = "?";
    const char *kind = "?";
    uint64_t aseq = 0;
    if (ledger_get(ledger, seq, &buf, &len) == 0 && ledger_record_decode(&r, buf, len) == 0 &&
        envelope_decode(&e, r.envelope, r.envelope_len) == 0) {
        kind = envelope_kind_name(e.kind) ? envelope_kind_name(e.kind) : "?";
        sodium_bin2hex(author, sizeof author, e.author, 8);
        sodium_bin2hex(subject, sizeof subject, e.subject, 8);
        aseq = e.author_seq;
    }
    fprintf(stderr, "drill_check: record %llu (%s by %s… #%llu, subject %s…): %s\n",
            (unsigned long long) seq, kind, author, (unsigned long long) aseq, subject, what);
    free(buf);
}

static int
s_cmd_account(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    uint8_t allowed[S_MAX_AUTHORS][32];
    size_t nallowed = 0;
    s_table_t acks = {0}, refused = {0}, stored = {0}, authors = {0};
    int rc = 0;
    for (int i = 2; rc == 0 && i < argc; i++) {
        if (i + 1 >= argc) {
            rc = COFAB_EINVAL;
        } else if (!strcmp(argv[i], "--acks")) {
            rc = s_read_acks(argv[++i], &acks);
        } else if (!strcmp(argv[i], "--refused")) {
            rc = s_read_refused(argv[++i], &refused);
        } else if (!strcmp(argv[i], "--author") && nallowed < S_MAX_AUTHORS) {
            keys_public_t p;
            rc = keys_public_load(&p, argv[++i]);
            if (rc == 0)
                memcpy(allowed[nallowed++], p.sign_pk, 32);
        } else {
            rc = COFAB_EINVAL;
        }
    }
    ledger_t *ledger = NULL;
    policy_alliance_t a;
    if (rc == 0)
        rc = s_open(argv[1], &ledger);
    if (rc == 0)
        rc = policy_alliance(ledger, &a);
    if (rc == 0)
        rc = s_scan(ledger, &stored, &authors);
    if (rc != 0) {
        fprintf(stderr, "drill_check account: %s\n", cofab_strerror(rc));
        ledger_destroy(&ledger);
        free(acks.v);
        free(refused.v);
        free(stored.v);
        free(authors.v);
        return 2;
    }
    s_sort(&acks);
    uint64_t from_acks = 0, from_allowed = 0, unaccounted = 0, present = 0;
    for (size_t i = 0; i < stored.n; i++) {
        const uint8_t *author = authors.v[i].hash;
        int ok = sodium_memcmp(author, a.hub, 32) == 0 || stored.v[i].seq == 0;
        for (size_t k = 0; !ok && k < nallowed; k++)
            ok = sodium_memcmp(author, allowed[k], 32) == 0;
        if (ok) {
            from_allowed++;
        } else if (s_find(&acks, stored.v[i].hash)) {
            from_acks++;
        } else if (unaccounted++ < 5) {
            s_describe(ledger, stored.v[i].seq, "nobody was told it was stored");
        }
    }
    s_sort(&stored);
    for (size_t i = 0; i < refused.n; i++)
        if (s_find(&stored, refused.v[i].hash) && present++ < 5)
            fprintf(stderr, "drill_check: a refused envelope is in the ledger\n");
    printf("records=%zu acked=%llu allowed=%llu unaccounted=%llu refused=%zu "
           "refused_present=%llu\n",
           stored.n, (unsigned long long) from_acks, (unsigned long long) from_allowed,
           (unsigned long long) unaccounted, refused.n, (unsigned long long) present);
    ledger_destroy(&ledger);
    free(acks.v);
    free(refused.v);
    free(stored.v);
    free(authors.v);
    return unaccounted || present ? 1 : 0;
}

/* Tally of order states. */
typedef struct {
    ledger_t *ledger;               /* read from */
    uint64_t by_state[16];          /* policy_state_t -> count */
    uint64_t orders, reassigned;    /* all orders; those that left a factory */
} s_tally_t;

static int
s_tally_one(void *ctx, const uint8_t id[32])
{
    s_tally_t *t = ctx;
    policy_order_t o;
    int rc = policy_order(t->ledger, id, &o);
    if (rc != 0) {
        char hex[17];
        sodium_bin2hex(hex, sizeof hex, id, 8);
        fprintf(stderr, "drill_check: order %s…: %s\n", hex, cofab_strerror(rc));
        return rc;
    }
    t->orders++;
    t->by_state[o.state < 16 ? o.state : 0]++;
    t->reassigned += o.nexclude > 0;
    return 0;
}

static int
s_cmd_orders(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    s_tally_t t;
    memset(&t, 0, sizeof t);
    int rc = s_open(argv[1], &t.ledger);
    if (rc == 0)
        rc = policy_orders(t.ledger, s_tally_one, &t);
    if (rc == 0) {
        printf("orders=%llu", (unsigned long long) t.orders);
        for (int s = POLICY_SUBMITTED; s <= POLICY_DECLINED; s++)
            printf(" %s=%llu", policy_state_name(s), (unsigned long long) t.by_state[s]);
        printf(" reassigned=%llu\n", (unsigned long long) t.reassigned);
    } else {
        fprintf(stderr, "drill_check orders: %s\n", cofab_strerror(rc));
    }
    ledger_destroy(&t.ledger);
    return rc == 0 ? 0 : 2;
}

static int
s_print_note(const char *text, size_t len)
{
    checkpoint_t cp;
    note_t *n = malloc(sizeof *n);
    int rc = n ? note_parse(n, text, len) : COFAB_ENOMEM;
    if (rc == 0)
        rc = checkpoint_from_note(&cp, text, len);
    if (rc == 0) {
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, cp.root, 32);
        printf("size=%llu root=%s cosignatures=%zu\n", (unsigned long long) cp.size, hex,
               n->nsigs ? n->nsigs - 1 : 0);
    } else {
        fprintf(stderr, "drill_check: not a signed checkpoint: %s\n", cofab_strerror(rc));
    }
    free(n);
    return rc == 0 ? 0 : 2;
}

static int
s_cmd_checkpoint(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    ledger_t *ledger = NULL;
    char note[LEDGER_CHECKPOINT_MAX];
    int rc = s_open(argv[1], &ledger);
    if (rc == 0)
        rc = ledger_checkpoint_latest(ledger, note, sizeof note);
    int ret = rc == 0 ? s_print_note(note, strlen(note)) : 2;
    ledger_destroy(&ledger);
    return ret;
}

static int
s_cmd_note(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (util_read_file(argv[1], NOTE_MAX_LEN, &buf, &len) != 0) {
        fprintf(stderr, "drill_check: cannot read %s\n", argv[1]);
        return 2;
    }
    int ret = s_print_note((const char *) buf, len);
    free(buf);
    return ret;
}

static int
s_cmd_digest(int argc, char **argv)
{
    if (argc < 2 || argc > 4)
        return 2;
    uint64_t from = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    uint64_t count = argc > 3 ? strtoull(argv[3], NULL, 10) : UINT64_MAX;
    ledger_t *ledger = NULL;
    if (s_open(argv[1], &ledger) != 0)
        return 2;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    ledger_iter_t *it = ledger_iter_new(ledger, from);
    uint64_t seq, n = 0;
    const uint8_t *bytes;
    size_t len;
    int rc = it ? 0 : COFAB_ESTORE;
    while (rc == 0 && n < count && (rc = ledger_iter_next(it, &seq, &bytes, &len)) == 0) {
        crypto_hash_sha256_update(&st, bytes, len);
        n++;
    }
    ledger_iter_destroy(&it);
    ledger_destroy(&ledger);
    if (rc != 0 && rc != COFAB_ENOTFOUND)
        return 2;
    uint8_t h[32];
    char hex[65];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, sizeof hex, h, 32);
    printf("records=%llu sha256=%s\n", (unsigned long long) n, hex);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } cmds[] = {{"acks", s_cmd_acks},         {"account", s_cmd_account},
                {"orders", s_cmd_orders},     {"checkpoint", s_cmd_checkpoint},
                {"note", s_cmd_note},         {"digest", s_cmd_digest}};
    if (sodium_init() < 0)
        return 2;
    for (size_t i = 0; argc > 1 && i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            /* A live ledger can fail a read transaction when the hub grows
             * its map meanwhile (MDB_MAP_RESIZED, reported as a store
             * error): the command starts again on a fresh open. */
            int rc = cmds[i].run(argc - 1, argv + 1);
            for (int again = 0; rc == 2 && again < 3; again++) {
                struct timespec ts = {0, 300000000L};
                nanosleep(&ts, NULL);
                rc = cmds[i].run(argc - 1, argv + 1);
            }
            if (rc == 2)
                fprintf(stderr, "drill_check %s: failed (see the usage in tests/drills/drill_check.c)\n",
                        argv[1]);
            return rc;
        }
    fprintf(stderr, "usage: drill_check acks|account|orders|checkpoint|note|digest ...\n");
    return 2;
}
