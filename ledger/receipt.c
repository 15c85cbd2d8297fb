/* receipt.c — strict reader and verifier of cofab's tlog-proof receipts (see receipt.h). */
#include "cofab/receipt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/util.h"

#define S_VERSION_PREFIX "c2sp.org/tlog-proof@"
#define S_SIG_PREFIX "\xe2\x80\x94 "        /* "— " (U+2014, space): a note signature line */
#define S_SIG_PREFIX_LEN (sizeof S_SIG_PREFIX - 1)

/* Reading position in the receipt text. */
typedef struct {
    const char *text;   /* the whole receipt */
    size_t len;         /* its length */
    size_t pos;         /* start of the next line */
} s_cursor_t;

/* The next "\n"-terminated line (without its "\n"). A line the text ends
 * inside is COFAB_ETRUNCATED; so is the end of the text itself, since every
 * line read through here comes before the note. */
static int
s_next_line(s_cursor_t *c, const char **line, size_t *n)
{
    if (c->pos >= c->len)
        return COFAB_ETRUNCATED;
    const char *start = c->text + c->pos;
    const char *nl = memchr(start, '\n', c->len - c->pos);
    if (!nl)
        return COFAB_ETRUNCATED;
    *line = start;
    *n = (size_t) (nl - start);
    c->pos += *n + 1;
    return 0;
}

/* tlog-proof index: ASCII decimal, no sign, no leading zero unless "0". */
static int
s_parse_index(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return COFAB_EMALFORMED;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return COFAB_EMALFORMED;
        uint64_t d = (uint64_t) (s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return COFAB_EMALFORMED;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* "c2sp.org/tlog-proof@v<digits>": the format, in a version we do not read. */
static int
s_other_version(const char *line, size_t n)
{
    size_t p = sizeof S_VERSION_PREFIX - 1;
    if (n < p + 2 || memcmp(line, S_VERSION_PREFIX, p) != 0 || line[p] != 'v')
        return 0;
    for (size_t i = p + 1; i < n; i++)
        if (line[i] < '0' || line[i] > '9')
            return 0;
    return 1;
}

/* Finds where the checkpoint note ends in rest: its body up to the first
 * blank line (a checkpoint body has none), then the run of signature
 * lines. Telling a cut-off note (ETRUNCATED) from bytes after a complete
 * one (ETRAILING) here gives clearer errors than note_parse() alone. */
static int
s_note_extent(const char *rest, size_t len, size_t *note_len)
{
    size_t pos = 0, nsigs = 0;
    if (len == 0)
        return COFAB_ETRUNCATED;
    const char *blank = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (rest[i] == '\n' && rest[i + 1] == '\n') {
            blank = rest + i;
            break;
        }
    if (!blank)
        return COFAB_ETRUNCATED;
    pos = (size_t) (blank - rest) + 2;
    while (pos < len) {
        size_t left = len - pos;
        if (left < S_SIG_PREFIX_LEN && memcmp(rest + pos, S_SIG_PREFIX, left) == 0)
            return COFAB_ETRUNCATED;            /* cut inside the "— " itself */
        if (left < S_SIG_PREFIX_LEN || memcmp(rest + pos, S_SIG_PREFIX, S_SIG_PREFIX_LEN) != 0)
            break;
        const char *nl = memchr(rest + pos, '\n', left);
        if (!nl)
            return COFAB_ETRUNCATED;
        pos = (size_t) (nl - rest) + 1;
        nsigs++;
    }
    if (nsigs == 0)
        return pos == len ? COFAB_ETRUNCATED : COFAB_EMALFORMED;
    if (pos < len)
        return COFAB_ETRAILING;
    *note_len = pos;
    return 0;
}

/* Everything up to the blank line before the note. */
static int
s_parse_head(receipt_t *r, s_cursor_t *c)
{
    const char *line = NULL;
    size_t n = 0;
    int rc = s_next_line(c, &line, &n);
    if (rc != 0)
        return rc;
    if (n != sizeof RECEIPT_HEADER - 1 || memcmp(line, RECEIPT_HEADER, n) != 0)
        return s_other_version(line, n) ? COFAB_EVERSION : COFAB_EMALFORMED;

    /* A cofab receipt always carries its record. */
    if ((rc = s_next_line(c, &line, &n)) != 0)
        return rc;
    if (n < 6 || memcmp(line, "extra ", 6) != 0)
        return COFAB_EMALFORMED;
    if (n - 6 > RECEIPT_EXTRA_B64_MAX)
        return COFAB_ETOOBIG;
    long got = util_b64_decode(r->record, sizeof r->record, line + 6, n - 6);
    if (got <= 0)
        return COFAB_EMALFORMED;
    r->record_len = (size_t) got;

    if ((rc = s_next_line(c, &line, &n)) != 0)
        return rc;
    if (n < 6 || memcmp(line, "index ", 6) != 0 || s_parse_index(line + 6, n - 6, &r->index) != 0)
        return COFAB_EMALFORMED;

    for (;;) {
        if ((rc = s_next_line(c, &line, &n)) != 0)
            return rc;
        if (n == 0)
            return 0;                           /* the blank line before the note */
        if (r->proof_len == RECEIPT_MAX_PROOF)
            return COFAB_ETOOBIG;
        if (util_b64_decode(r->proof[r->proof_len], MERKLE_HASH_LEN, line, n) != MERKLE_HASH_LEN)
            return COFAB_EMALFORMED;
        r->proof_len++;
    }
}

int
receipt_parse(receipt_t *out, const char *text, size_t len)
{
    ledger_record_t rec;
    envelope_t e;
    size_t note_len = 0;
    int rc;

    if (!out || (!text && len))
        return COFAB_EINVAL;
    memset(out, 0, sizeof *out);
    if (len > RECEIPT_MAX_LEN)
        return COFAB_ETOOBIG;
    if (sodium_init() < 0)
        return COFAB_ECRYPTO;
    s_cursor_t c = {.text = text, .len = len, .pos = 0};
    rc = s_parse_head(out, &c);
    if (rc == 0)
        rc = s_note_extent(text + c.pos, len - c.pos, &note_len);
    if (rc == 0 && note_len > NOTE_MAX_LEN)
        rc = COFAB_ETOOBIG;
    if (rc == 0)
        rc = note_parse(&out->note, text + c.pos, note_len);
    if (rc == 0)
        rc = checkpoint_parse(&out->cp, out->note.body, out->note.body_len);
    if (rc == 0)
        rc = ledger_record_decode(&rec, out->record, out->record_len);
    if (rc == 0)
        rc = envelope_decode(&e, rec.envelope, rec.envelope_len);
    if (rc != 0) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    memcpy(out->note_text, text + c.pos, note_len);
    out->note_text[note_len] = '\0';
    out->note_len = note_len;
    return 0;
}

/* ---- verification -------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static int
s_fail(receipt_report_t *rep, int code, int step, const char *fmt, ...);

static int
s_fail(receipt_report_t *rep, int code, int step, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->reason, sizeof rep->reason, fmt, ap);
    va_end(ap);
    rep->code = code;
    rep->step = step;
    return code;
}

static int
s_same_key(const note_verifier_t *a, const note_verifier_t *b)
{
    return strcmp(a->name, b->name) == 0 && sodium_memcmp(a->pk, b->pk, 32) == 0;
}

/* Signature lines by neither the hub key nor a policy witness: keys this
 * verifier does not know, reported but never trusted. */
static uint32_t
s_other_sigs(const note_t *note, const note_verifier_t *hub, const witness_policy_t *policy)
{
    uint32_t n = 0;
    for (size_t i = 0; i < note->nsigs; i++) {
        const note_sig_t *s = &note->sigs[i];
        int known = strcmp(s->name, hub->name) == 0 &&
                    memcmp(s->keyid, hub->keyid, NOTE_KEYID_LEN) == 0;
        for (uint32_t w = 0; policy && !known && w < policy->n; w++)
            known = strcmp(s->name, policy->witnesses[w].name) == 0;
        n += !known;
    }
    return n;
}

/* Step 4: the policy's witnesses and its quorum. */
static int
s_witnesses(const receipt_t *r, const witness_policy_t *policy, receipt_report_t *rep)
{
    uint64_t which = 0;
    int forged = -1;
    rep->has_policy = 1;
    rep->quorum = policy->quorum;
    if (witness_policy_count(policy, &r->note, &rep->cosigned, &which, &forged) != 0)
        return s_fail(rep, COFAB_EBADSIG, RECEIPT_STEP_WITNESS,
                      "the cosignature by witness %s does not verify (forged)",
                      forged >= 0 && (uint32_t) forged < policy->n
                          ? policy->witnesses[forged].name : "?");
    uint32_t k = 0;
    for (uint32_t i = 0; i < policy->n && i < WITNESS_MAX; i++)
        if (which & ((uint64_t) 1 << i))
            memcpy(rep->cosigners[k++], policy->witnesses[i].name, NOTE_MAX_NAME + 1);
    if (rep->cosigned < policy->quorum)
        return s_fail(rep, COFAB_EWITNESS, RECEIPT_STEP_WITNESS,
                      "the checkpoint has %u valid cosignature%s by the policy's witnesses; "
                      "the quorum is %u",
                      rep->cosigned, rep->cosigned == 1 ? "" : "s", policy->quorum);
    return 0;
}

int
receipt_verify(const receipt_t *r, const note_verifier_t *hub, const witness_policy_t *policy,
               receipt_report_t *rep)
{
    ledger_record_t rec;
    envelope_t e;
    int rc;

    if (!r || !rep)
        return COFAB_EINVAL;
    memset(rep, 0, sizeof *rep);
    rep->index = r->index;
    rep->tree_size = r->cp.size;
    memcpy(rep->origin, r->cp.origin, sizeof rep->origin);
    const note_verifier_t *key = hub ? hub : policy && policy->has_log ? &policy->log : NULL;
    if (!key)
        return s_fail(rep, COFAB_EINVAL, RECEIPT_STEP_HUB, "no hub key to verify against");
    memcpy(rep->hub_name, key->name, sizeof rep->hub_name);
    if (sodium_init() < 0)
        return s_fail(rep, COFAB_ECRYPTO, RECEIPT_STEP_HUB, "libsodium failed to initialise");
    merkle_leaf_hash(r->record, r->record_len, rep->leaf);

    /* The report names what the record claims from the start; rep->code
     * says whether those claims were proven. */
    rc = ledger_record_decode(&rec, r->record, r->record_len);
    if (rc == 0)
        rc = envelope_decode(&e, rec.envelope, rec.envelope_len);
    if (rc != 0)
        return s_fail(rep, rc, RECEIPT_STEP_ENVELOPE, "the record does not decode: %s",
                      cofab_strerror(rc));
    rep->has_record = 1;
    rep->record_time_ms = rec.time_ms;
    rep->kind = e.kind;
    memcpy(rep->author, e.author, 32);
    rep->author_seq = e.author_seq;
    memcpy(rep->subject, e.subject, 32);
    rep->timestamp_ms = e.timestamp_ms;
    memcpy(rep->envelope_hash, e.hash, 32);

    /* 1. Trust starts at the hub's signature on the checkpoint. */
    if (hub && policy && policy->has_log && !s_same_key(hub, &policy->log))
        return s_fail(rep, COFAB_EKEYMISMATCH, RECEIPT_STEP_HUB,
                      "the hub key %s is not the policy's log key %s", hub->name,
                      policy->log.name);
    rc = note_verify(&r->note, key);
    if (rc == COFAB_ENOTFOUND)
        return s_fail(rep, rc, RECEIPT_STEP_HUB,
                      "the checkpoint carries no signature by hub key %s (key id %02x%02x%02x%02x)",
                      key->name, key->keyid[0], key->keyid[1], key->keyid[2], key->keyid[3]);
    if (rc != 0)
        return s_fail(rep, rc, RECEIPT_STEP_HUB,
                      "the signature by hub key %s on the checkpoint does not verify", key->name);

    /* 2. The record's leaf hash up to the signed root. */
    rc = merkle_verify_inclusion(r->index, r->cp.size, rep->leaf,
                                 (const uint8_t(*)[MERKLE_HASH_LEN]) r->proof, r->proof_len,
                                 r->cp.root);
    if (rc == COFAB_ERANGE)
        return s_fail(rep, rc, RECEIPT_STEP_PROOF,
                      "index %llu is beyond the checkpoint's %llu records",
                      (unsigned long long) r->index, (unsigned long long) r->cp.size);
    if (rc != 0)
        return s_fail(rep, rc, RECEIPT_STEP_PROOF,
                      "the inclusion proof of record %llu does not lead to the root signed "
                      "for %llu records",
                      (unsigned long long) r->index, (unsigned long long) r->cp.size);

    /* 3. The record's own claims about its place. A hub that signed them
     * wrong wrote a ledger no audit passes: say so rather than pass it. */
    if (rec.seq != r->index)
        return s_fail(rep, COFAB_ECHAIN, RECEIPT_STEP_RECORD,
                      "the record says it is record %llu, but it is proven at %llu",
                      (unsigned long long) rec.seq, (unsigned long long) r->index);
    if (r->cp.has_chain && r->index + 1 == r->cp.size &&
        sodium_memcmp(rep->leaf, r->cp.chain, MERKLE_HASH_LEN) != 0)
        return s_fail(rep, COFAB_ECHAIN, RECEIPT_STEP_RECORD,
                      "the last record's hash is not the checkpoint's chain head");

    /* 4. Witnesses, when the caller has a policy. */
    rep->other_sigs = s_other_sigs(&r->note, key, policy);
    if (policy && (rc = s_witnesses(r, policy, rep)) != 0)
        return rc;

    /* 5. What the record says is what its author signed. */
    if ((rc = envelope_verify(&e)) != 0)
        return s_fail(rep, rc, RECEIPT_STEP_ENVELOPE,
                      "the %s envelope's signature by its author does not verify",
                      envelope_kind_name(e.kind) ? envelope_kind_name(e.kind) : "?");

    s_fail(rep, 0, RECEIPT_STEP_NONE, "record %llu (%s) is in the %llu-record log %s signed by %s",
           (unsigned long long) r->index,
           envelope_kind_name(e.kind) ? envelope_kind_name(e.kind) : "?",
           (unsigned long long) r->cp.size, r->cp.origin, key->name);
    return 0;
}

const char *
receipt_step_name(int step)
{
    switch (step) {
    case RECEIPT_STEP_NONE: return "none";
    case RECEIPT_STEP_HUB: return "hub signature";
    case RECEIPT_STEP_PROOF: return "inclusion proof";
    case RECEIPT_STEP_RECORD: return "record position";
    case RECEIPT_STEP_WITNESS: return "witness cosignatures";
    case RECEIPT_STEP_ENVELOPE: return "envelope signature";
    default: return "unknown";
    }
}
