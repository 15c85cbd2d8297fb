/* node_witness.c — checks the hub's checkpoints against the replica, cosigns, evidence. */
#include "node_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/policy.h"
#include "cofab/merkle.h"
#include "cofab/util.h"

#define S_COSIGNED_FILE "last-cosigned.note"

static void
s_cp_store(node_cp_t *slot, const char *text, size_t len, const checkpoint_t *cp)
{
    memcpy(slot->text, text, len);
    slot->text[len] = 0;
    slot->len = len;
    slot->cp = *cp;
    slot->set = 1;
}

void
node_witness_free(node_t *self)
{
    free(self->seen.text);
    free(self->cosigned.text);
    free(self->future.text);
    self->seen.text = self->cosigned.text = self->future.text = NULL;
}

/* Parses text as a checkpoint note signed by our hub, for our origin. On
 * success note and cp are filled; else *why says what is wrong. */
static int
s_verify(node_t *self, const char *text, size_t len, note_t *note, checkpoint_t *cp,
         const char **why)
{
    int rc = len > NOTE_MAX_LEN ? COFAB_ETOOBIG : note_parse(note, text, len);
    *why = "not a signed note";
    if (rc == 0) {
        rc = note_verify(note, &self->hub_verifier);
        *why = "no valid signature by the hub key";
    }
    if (rc == 0) {
        rc = checkpoint_parse(cp, note->body, note->body_len);
        *why = "not a checkpoint";
    }
    if (rc == 0 && self->ledger && strcmp(cp->origin, ledger_origin(self->ledger)) != 0) {
        rc = COFAB_EMALFORMED;
        *why = "checkpoint of another log (origin)";
    }
    return rc;
}

int
node_witness_load(node_t *self)
{
    char path[CONFIG_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/" S_COSIGNED_FILE, self->cfg.data_dir);
    if (access(path, F_OK) != 0)
        return 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    note_t *note = malloc(sizeof *note);
    checkpoint_t cp;
    const char *why = "unreadable";
    int rc = note ? util_read_file(path, NOTE_MAX_LEN, &buf, &len) : COFAB_ENOMEM;
    if (rc == 0)
        rc = s_verify(self, (const char *) buf, len, note, &cp, &why);
    if (rc == 0) {
        s_cp_store(&self->cosigned, (const char *) buf, len, &cp);
        node_status_set(self, &self->status.cosigned_size, cp.size);
    } else {
        node_log(self, "%s: %s (%s); move it away to start without a baseline", path, why,
                 cofab_strerror(rc));
    }
    free(buf);
    free(note);
    return rc;
}

/* Writes the cosigned note durably: temporary file, fsync, rename, fsync
 * of the directory, so a crash leaves the old or the new baseline. */
static int
s_save_cosigned(node_t *self, const char *text, size_t len)
{
    char path[CONFIG_PATH_MAX + 32], tmp[CONFIG_PATH_MAX + 40];
    snprintf(path, sizeof path, "%s/" S_COSIGNED_FILE, self->cfg.data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return COFAB_EIO;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t) n;
    }
    int ok = done == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return COFAB_EIO;
    }
    int dfd = open(self->cfg.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* Two checkpoints that cannot both be true: evidence with both notes, then
 * no more cosigning or replicating from this hub. a may be NULL when the
 * other party is the replica's own verified records. */
static void
s_conflict(node_t *self, const node_cp_t *a, const char *b, size_t blen, const char *explanation)
{
    size_t cap = (a && a->set ? a->len : 0) + blen + 2048;
    char *text = malloc(cap);
    char verifier[NOTE_VERIFIER_MAX] = "";
    note_verifier_format(&self->hub_verifier, verifier, sizeof verifier);
    node_log(self, "HUB MISBEHAVES: %s; cosigning and replication stopped", explanation);
    if (text) {
        int n;
        if (a && a->set)
            n = snprintf(text, cap,
                         "cofab evidence: inconsistent checkpoints\nhub: %s\nobserved-ms: %llu\n"
                         "explanation: %s\n--- checkpoint A (size %llu) ---\n%s"
                         "--- checkpoint B ---\n%.*s--- end ---\n",
                         verifier, (unsigned long long) util_now_ms(), explanation,
                         (unsigned long long) a->cp.size, a->text, (int) blen, b);
        else
            n = snprintf(text, cap,
                         "cofab evidence: inconsistent checkpoints\nhub: %s\nobserved-ms: %llu\n"
                         "explanation: %s\n--- checkpoint A: none; the replica's verified "
                         "records disagree ---\n--- checkpoint B ---\n%.*s--- end ---\n",
                         verifier, (unsigned long long) util_now_ms(), explanation, (int) blen,
                         b);
        if (n > 0 && (size_t) n < cap)
            node_evidence(self, text, (size_t) n);
    }
    free(text);
    self->halted = 1;
    if (self->sub) {
        zmq_close(self->sub);
        self->sub = NULL;
    }
    node_status_sync(self);
}

/* Does the replica (verified record by record) have this checkpoint's root
 * and chain head? Returns 0, COFAB_EROOT / COFAB_ECHAIN, or a store error. */
static int
s_matches_replica(node_t *self, const checkpoint_t *cp)
{
    uint8_t root[32];
    int rc = cp->size == 0 ? (merkle_empty_root(root), 0)
                           : ledger_root(self->ledger, cp->size, root);
    if (rc != 0)
        return rc;
    if (sodium_memcmp(root, cp->root, 32) != 0)
        return COFAB_EROOT;
    if (cp->has_chain && cp->size > 0) {
        uint8_t *rec = NULL, leaf[32];
        size_t len = 0;
        rc = ledger_get(self->ledger, cp->size - 1, &rec, &len);
        if (rc == 0) {
            merkle_leaf_hash(rec, len, leaf);
            if (sodium_memcmp(leaf, cp->chain, 32) != 0)
                rc = COFAB_ECHAIN;
        }
        free(rec);
    }
    return rc;
}

/* The hub's own consistency proof from the cosigned checkpoint to cp. */
static int
s_check_proof(node_t *self, const checkpoint_t *cp)
{
    const checkpoint_t *old = &self->cosigned.cp;
    uint8_t body[16];
    util_put_be64(body, old->size);
    util_put_be64(body + 8, cp->size);
    net_msg_t m;
    int rc = node_request(self, WIRE_GET_CONSISTENCY, body, sizeof body, &m);
    if (rc != 0)
        return rc;
    wire_reader_t r;
    wire_reader_init(&r, m.body, m.len);
    uint8_t k = m.type == WIRE_CONSISTENCY ? wire_read_u8(&r) : 0;
    const uint8_t *proof = m.type == WIRE_CONSISTENCY ? wire_read_bytes(&r, (size_t) k * 32) : NULL;
    rc = m.type == WIRE_CONSISTENCY && proof && wire_reader_end(&r) == 0 ? 0 : COFAB_EPROOF;
    if (rc == 0 && k > MERKLE_MAX_PROOF)
        rc = COFAB_EPROOF;
    if (rc == 0)
        rc = merkle_verify_consistency(old->size, cp->size, old->root, cp->root,
                                       (const uint8_t(*)[MERKLE_HASH_LEN]) proof, k);
    net_msg_free(&m);
    return rc;
}

static int
s_cosign(node_t *self, const char *text, size_t len, const checkpoint_t *cp)
{
    char *out = malloc(NOTE_MAX_LEN + 1);
    uint8_t *body = malloc(8 + NOTE_MAX_LEN);
    int rc = out && body ? 0 : COFAB_ENOMEM;
    if (rc == 0)
        rc = note_cosign(text, len, keys_name(self->keys), keys_sign_sk(self->keys),
                         util_now_ms() / 1000, out, NOTE_MAX_LEN + 1);
    net_msg_t m = {0};
    size_t olen = rc == 0 ? strlen(out) : 0;
    if (rc == 0) {
        util_put_be64(body, cp->size);
        memcpy(body + 8, out, olen);
        rc = node_request(self, WIRE_COSIGN, body, 8 + olen, &m);
    }
    if (rc == 0 && m.type == WIRE_ACK) {
        s_cp_store(&self->cosigned, out, olen, cp);
        int src = s_save_cosigned(self, out, olen);
        if (src != 0)
            node_log(self, "cannot save %s/" S_COSIGNED_FILE ": %s", self->cfg.data_dir,
                     cofab_strerror(src));
        node_status_set(self, &self->status.cosigned_size, cp->size);
        node_status_add(self, &self->status.cosignatures, 1);
        node_log(self, "cosigned checkpoint %llu", (unsigned long long) cp->size);
    } else if (rc == 0) {
        int code = 0;
        char reason[WIRE_MAX_REASON + 1] = "unexpected reply";
        if (m.type == WIRE_ERR)
            wire_err_decode(m.body, m.len, &code, reason);
        node_log(self, "hub did not take our cosignature of %llu: %s",
                 (unsigned long long) cp->size, reason);
    } else if (rc != COFAB_ENET) {
        node_log(self, "cannot cosign checkpoint %llu: %s", (unsigned long long) cp->size,
                 cofab_strerror(rc));
        rc = 0;
    }
    net_msg_free(&m);
    free(out);
    free(body);
    return rc;
}

/* Genesis' witness policy, read once from the replica's record 0. */
static int
s_policy(node_t *self)
{
    if (self->wpolicy_loaded)
        return 0;
    payload_genesis_t *g = malloc(sizeof *g);
    int rc = g ? policy_genesis(self->ledger, g) : COFAB_ENOMEM;
    if (rc == 0) {
        witness_policy_from_genesis(&self->wpolicy, g);
        self->wpolicy_loaded = 1;
        /* What an earlier run already kept. */
        char note[LEDGER_CHECKPOINT_MAX];
        checkpoint_t kept;
        if (ledger_checkpoint_latest(self->ledger, note, sizeof note) == 0 &&
            checkpoint_from_note(&kept, note, strlen(note)) == 0)
            self->witnessed_size = kept.size;
    }
    free(g);
    return rc;
}

/* Keeps a checkpoint in the replica once it carries the witnesses' quorum,
 * so the replica audits on its own like the hub's ledger does. */
static void
s_keep_witnessed(node_t *self, const char *text, size_t len, const checkpoint_t *cp,
                 const note_t *note)
{
    uint32_t valid = 0;
    if (s_policy(self) != 0 || cp->size <= self->witnessed_size ||
        witness_policy_count(&self->wpolicy, note, &valid, NULL, NULL) != 0 ||
        valid < self->wpolicy.quorum)
        return;
    int rc = ledger_checkpoint_put(self->ledger, cp->size, text, len);
    if (rc != 0) {
        node_log(self, "cannot store witnessed checkpoint %llu: %s", (unsigned long long) cp->size,
                 cofab_strerror(rc));
        return;
    }
    self->witnessed_size = cp->size;
}

int
node_witness_missing(node_t *self)
{
    return self->seen.set && self->seen.cp.size > self->witnessed_size;
}

/* A verified checkpoint within the replica: compare, then maybe cosign. */
static int
s_check(node_t *self, const char *text, size_t len, const checkpoint_t *cp, const note_t *note,
        int stored)
{
    char why[192];
    int rc = s_matches_replica(self, cp);
    if (rc == COFAB_EROOT || rc == COFAB_ECHAIN) {
        snprintf(why, sizeof why, "checkpoint %llu: %s differs from the replica's verified records",
                 (unsigned long long) cp->size, rc == COFAB_EROOT ? "root" : "chain head");
        s_conflict(self, self->cosigned.set ? &self->cosigned : &self->seen, text, len, why);
        return 0;
    }
    if (rc != 0)
        return rc;
    const node_cp_t *c = &self->cosigned;
    if (c->set && c->cp.size <= ledger_size(self->ledger)) {
        /* Our replica must extend what we cosigned before. */
        rc = s_matches_replica(self, &c->cp);
        if (rc == COFAB_EROOT || rc == COFAB_ECHAIN) {
            snprintf(why, sizeof why,
                     "the hub's history is not an extension of checkpoint %llu we cosigned",
                     (unsigned long long) c->cp.size);
            s_conflict(self, c, text, len, why);
            return 0;
        }
        if (rc != 0)
            return rc;
    }
    if (!self->seen.set || cp->size >= self->seen.cp.size)
        s_cp_store(&self->seen, text, len, cp);
    if (c->set && cp->size < c->cp.size)
        return 0; /* older than our baseline: nothing to add */
    if (c->set && c->cp.size > 0 && cp->size > c->cp.size) {
        rc = s_check_proof(self, cp);
        if (rc == COFAB_ENET)
            return rc;
        if (rc != 0) {
            snprintf(why, sizeof why, "the hub's consistency proof %llu -> %llu does not verify",
                     (unsigned long long) c->cp.size, (unsigned long long) cp->size);
            s_conflict(self, c, text, len, why);
            return 0;
        }
    }
    s_keep_witnessed(self, text, len, cp, note);
    if (!self->cfg.witness)
        return 0;
    if (c->set && cp->size == c->cp.size && !stored)
        return 0; /* the feed repeating what we cosigned */
    if (note_verify_cosignature(note, keys_name(self->keys), keys_sign_pk(self->keys), NULL) == 0)
        return 0; /* the hub already holds our cosignature */
    return s_cosign(self, text, len, cp);
}

int
node_witness_checkpoint(node_t *self, const char *text, size_t len, int stored)
{
    if (!self->ledger || self->halted)
        return 0;
    note_t *note = malloc(sizeof *note);
    checkpoint_t cp;
    const char *why = "";
    if (!note)
        return COFAB_ENOMEM;
    int rc = s_verify(self, text, len, note, &cp, &why);
    if (rc != 0) {
        node_log(self, "checkpoint from the hub refused: %s (%s)", why, cofab_strerror(rc));
        free(note);
        return 0;
    }
    if (cp.size > ledger_size(self->ledger)) {
        node_cp_t *f = &self->future;
        if (f->set && f->cp.size == cp.size && sodium_memcmp(f->cp.root, cp.root, 32) != 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "two checkpoints of size %llu with different roots",
                     (unsigned long long) cp.size);
            s_conflict(self, f, text, len, msg);
        } else if (!f->set || cp.size >= f->cp.size) {
            /* Before fetching records toward it, the hub must prove it
             * extends what we cosigned: a fork is then caught on two
             * signed checkpoints, evidence anyone can check, rather than
             * on an unsigned record that does not link to our head. */
            const node_cp_t *c = &self->cosigned;
            rc = c->set && c->cp.size > 0 && cp.size > c->cp.size ? s_check_proof(self, &cp) : 0;
            if (rc != 0 && rc != COFAB_ENET) {
                char msg[128];
                snprintf(msg, sizeof msg, "the hub's consistency proof %llu -> %llu does not verify",
                         (unsigned long long) c->cp.size, (unsigned long long) cp.size);
                s_conflict(self, c, text, len, msg);
                rc = 0;
            } else if (rc == 0) {
                s_cp_store(f, text, len, &cp);
                self->need_catchup = 1; /* the hub has records we lack */
            }
        }
        free(note);
        return rc;
    }
    rc = s_check(self, text, len, &cp, note, stored);
    free(note);
    return rc;
}

int
node_witness_pending(node_t *self)
{
    node_cp_t *f = &self->future;
    if (!f->set || !self->ledger || f->cp.size > ledger_size(self->ledger))
        return 0;
    char *copy = malloc(f->len + 1);
    if (!copy)
        return COFAB_ENOMEM;
    size_t len = f->len;
    memcpy(copy, f->text, len + 1);
    f->set = 0;
    int rc = node_witness_checkpoint(self, copy, len, 0);
    free(copy);
    return rc;
}
