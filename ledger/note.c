/* note.c — C2SP signed notes, tlog checkpoints, cosignature/v1 and verifier keys. */
#include "cofab/note.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/util.h"

#define S_SIG_PREFIX "\xe2\x80\x94 "   /* U+2014 EM DASH, space */
#define S_SIG_PREFIX_LEN 4
#define S_ED25519_BLOB (NOTE_KEYID_LEN + 64)
#define S_COSIG_BLOB (NOTE_KEYID_LEN + 8 + 64)
#define S_COSIG_HEADER "cosignature/v1\n"
#define S_TIME_MAX UINT64_C(0x7fffffffffffffff) /* tlog-cosignature: <= 2^63-1 */
/* Largest blob a signature line inside a NOTE_MAX_LEN note can decode to. */
#define S_SCRATCH_LEN (NOTE_MAX_LEN / 4 * 3 + 3)
#define S_B64_32 (sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL))

/* ---- text checks ---------------------------------------------------- */

/* Decodes one UTF-8 sequence at p (n bytes left) with Go's utf8.DecodeRune
 * rules (no overlongs, surrogates or values past U+10FFFF). Returns its
 * length and stores the code point, or 0 for an invalid sequence. */
static size_t
s_utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
    uint8_t b = p[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;   /* bounds for the second byte */
    uint32_t c;

    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
        c = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        c = b & 0x0f;
        if (b == 0xe0)
            lo = 0xa0;              /* overlong */
        else if (b == 0xed)
            hi = 0x9f;              /* surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        c = b & 0x07;
        if (b == 0xf0)
            lo = 0x90;              /* overlong */
        else if (b == 0xf4)
            hi = 0x8f;              /* past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    c = (c << 6) | (p[1] & 0x3f);
    for (size_t i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    *cp = c;
    return len;
}

/* Signed notes must be valid UTF-8 without ASCII controls other than "\n"
 * (this also rules out NUL bytes). */
static int
s_text_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = s_utf8_decode(p + i, n - i, &cp);
        if (k == 0 || (cp < 0x20 && cp != '\n'))
            return 0;
        i += k;
    }
    return 1;
}

/* Go's unicode.IsSpace. */
static int
s_is_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* A key name as signed-note (and Go) accept it on a signature line:
 * non-empty UTF-8 with no Unicode space and no '+'. */
static int
s_sigline_name_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    if (n == 0)
        return 0;
    while (i < n) {
        uint32_t cp;
        size_t k = s_utf8_decode(p + i, n - i, &cp);
        if (k == 0 || cp < 0x20 || cp == '+' || s_is_space(cp))
            return 0;
        i += k;
    }
    return 1;
}

/* A key name cofab creates or configures: 1..NOTE_MAX_NAME bytes of
 * [A-Za-z0-9._-] (the same names keys.h uses as file names). */
static int
s_own_name_ok(const char *name, size_t n)
{
    if (n == 0 || n > NOTE_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}


static uint64_t
s_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void
s_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

/* ---- key ids and verifier keys --------------------------------------- */

void
note_keyid(const char *name, uint8_t alg, const uint8_t pk[32], uint8_t out[NOTE_KEYID_LEN])
{
    crypto_hash_sha256_state st;
    uint8_t digest[crypto_hash_sha256_BYTES];
    const uint8_t sep[2] = {'\n', alg};

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *) name, strlen(name));
    crypto_hash_sha256_update(&st, sep, sizeof sep);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, digest);
    memcpy(out, digest, NOTE_KEYID_LEN);
}

int
note_verifier_init(note_verifier_t *v, const char *name, const uint8_t pk[32])
{
    if (!v || !name || !pk)
        return COFAB_EINVAL;
    size_t n = strnlen(name, NOTE_MAX_NAME + 1);
    if (!s_own_name_ok(name, n))
        return COFAB_EMALFORMED;
    memset(v, 0, sizeof *v);
    memcpy(v->name, name, n);
    memcpy(v->pk, pk, 32);
    note_keyid(v->name, NOTE_ALG_ED25519, v->pk, v->keyid);
    return 0;
}

int
note_verifier_format(const note_verifier_t *v, char *out, size_t out_len)
{
    uint8_t key[33];
    char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];

    if (!v || !out || out_len < NOTE_VERIFIER_MAX)
        return COFAB_EINVAL;
    key[0] = NOTE_ALG_ED25519;
    memcpy(key + 1, v->pk, 32);
    sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    /* 64 + 1 + 8 + 1 + 44 + NUL always fits in NOTE_VERIFIER_MAX. */
    snprintf(out, out_len, "%.*s+%02x%02x%02x%02x+%s", NOTE_MAX_NAME, v->name,
             v->keyid[0], v->keyid[1], v->keyid[2], v->keyid[3], b64);
    return 0;
}

static int
s_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
note_verifier_parse(note_verifier_t *v, const char *text, size_t len)
{
    uint8_t key[33];
    uint8_t hexid[NOTE_KEYID_LEN];
    uint8_t want[NOTE_KEYID_LEN];
    note_verifier_t tmp;

    if (!v || (!text && len > 0))
        return COFAB_EINVAL;
    if (len == 0 || len >= NOTE_VERIFIER_MAX)
        return COFAB_EMALFORMED;
    const char *plus1 = memchr(text, '+', len);
    if (!plus1)
        return COFAB_EMALFORMED;
    size_t name_len = (size_t) (plus1 - text);
    const char *hex = plus1 + 1;
    size_t rest = len - name_len - 1;
    /* Exactly 8 hex digits, then '+', then the key. */
    if (rest < NOTE_KEYID_LEN * 2 + 1 || hex[NOTE_KEYID_LEN * 2] != '+')
        return COFAB_EMALFORMED;
    if (!s_own_name_ok(text, name_len))
        return COFAB_EMALFORMED;
    for (int i = 0; i < NOTE_KEYID_LEN; i++) {
        int hi = s_hexval(hex[2 * i]), lo = s_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return COFAB_EMALFORMED;
        hexid[i] = (uint8_t) (hi << 4 | lo);
    }
    const char *b64 = hex + NOTE_KEYID_LEN * 2 + 1;
    size_t b64_len = rest - NOTE_KEYID_LEN * 2 - 1;
    if (util_b64_decode(key, sizeof key, b64, b64_len) != (long) sizeof key)
        return COFAB_EMALFORMED;
    if (key[0] != NOTE_ALG_ED25519)
        return COFAB_EMALFORMED;

    memset(&tmp, 0, sizeof tmp);
    memcpy(tmp.name, text, name_len);
    memcpy(tmp.pk, key + 1, 32);
    note_keyid(tmp.name, NOTE_ALG_ED25519, tmp.pk, want);
    if (sodium_memcmp(want, hexid, NOTE_KEYID_LEN) != 0)
        return COFAB_EKEYMISMATCH;
    memcpy(tmp.keyid, want, NOTE_KEYID_LEN);
    *v = tmp;
    return 0;
}

/* ---- signed notes ----------------------------------------------------- */

/* Splits a whole note at its last blank line after the size and text
 * checks: *body_len covers the text through its final "\n"; the signature
 * block starts at body_len + 1, is non-empty and ends in "\n". */
static int
s_split(const char *text, size_t len, size_t *body_len)
{
    if (len > NOTE_MAX_LEN)
        return COFAB_ETOOBIG;
    if (!s_text_ok((const uint8_t *) text, len))
        return COFAB_EMALFORMED;
    if (len < 3 || text[len - 1] != '\n')
        return COFAB_EMALFORMED;
    /* The last "\n\n" cannot end at len - 1: the block must be non-empty. */
    for (size_t i = len - 2; i-- > 0;) {
        if (text[i] == '\n' && text[i + 1] == '\n') {
            *body_len = i + 1;
            return 0;
        }
    }
    return COFAB_EMALFORMED;
}

/* Parses one signature line (without its "\n"). *keep is 0 when the line is
 * well-formed but its name is longer than note_sig_t holds, so it cannot be
 * from any key this module verifies. */
static int
s_parse_sigline(const char *line, size_t len, note_sig_t *sig, int *keep)
{
    uint8_t scratch[S_SCRATCH_LEN];

    if (len < S_SIG_PREFIX_LEN || memcmp(line, S_SIG_PREFIX, S_SIG_PREFIX_LEN) != 0)
        return COFAB_EMALFORMED;
    line += S_SIG_PREFIX_LEN;
    len -= S_SIG_PREFIX_LEN;
    const char *sp = memchr(line, ' ', len);
    if (!sp)
        return COFAB_EMALFORMED;
    size_t name_len = (size_t) (sp - line);
    const char *b64 = sp + 1;
    size_t b64_len = len - name_len - 1;
    if (!s_sigline_name_ok((const uint8_t *) line, name_len) || b64_len == 0)
        return COFAB_EMALFORMED;
    long n = util_b64_decode(scratch, sizeof scratch, b64, b64_len);
    if (n < NOTE_KEYID_LEN + 1)
        return COFAB_EMALFORMED;

    *keep = name_len <= NOTE_MAX_NAME;
    if (!*keep)
        return 0;
    memset(sig, 0, sizeof *sig);
    memcpy(sig->name, line, name_len);
    memcpy(sig->keyid, scratch, NOTE_KEYID_LEN);
    if ((size_t) n <= sizeof sig->blob) {
        memcpy(sig->blob, scratch, (size_t) n);
        sig->blob_len = (size_t) n;
    }
    return 0;
}

/* Walks the signature block sigs[0..len): checks every line and counts
 * them; stores kept lines in note when it is not NULL. */
static int
s_parse_block(const char *sigs, size_t len, note_t *note, size_t *nlines)
{
    size_t pos = 0, count = 0;
    while (pos < len) {
        const char *nl = memchr(sigs + pos, '\n', len - pos);
        if (!nl)
            return COFAB_EMALFORMED;        /* s_split ensures a final "\n" */
        size_t line_len = (size_t) (nl - (sigs + pos));
        if (++count > NOTE_MAX_SIGS)
            return COFAB_EMALFORMED;
        note_sig_t sig;
        int keep = 0;
        int rc = s_parse_sigline(sigs + pos, line_len, &sig, &keep);
        if (rc != 0)
            return rc;
        if (note && keep)
            note->sigs[note->nsigs++] = sig;
        pos += line_len + 1;
    }
    if (count == 0)
        return COFAB_EMALFORMED;
    *nlines = count;
    return 0;
}

int
note_parse(note_t *note, const char *text, size_t len)
{
    size_t body_len = 0, nlines = 0;
    int rc;

    if (!note || (!text && len > 0))
        return COFAB_EINVAL;
    note->body_len = 0;
    note->body[0] = '\0';
    note->nsigs = 0;
    rc = s_split(text, len, &body_len);
    if (rc != 0)
        return rc;
    rc = s_parse_block(text + body_len + 1, len - body_len - 1, note, &nlines);
    if (rc != 0) {
        note->nsigs = 0;
        return rc;
    }
    memcpy(note->body, text, body_len);
    note->body[body_len] = '\0';
    note->body_len = body_len;
    return 0;
}

int
note_verify(const note_t *note, const note_verifier_t *v)
{
    int found = 0;

    if (!note || !v || note->body_len > NOTE_MAX_LEN || note->nsigs > NOTE_MAX_SIGS)
        return COFAB_EINVAL;
    if (sodium_init() < 0)
        return COFAB_ECRYPTO;
    /* Every line that names this key must verify, not just the first. */
    for (size_t i = 0; i < note->nsigs; i++) {
        const note_sig_t *s = &note->sigs[i];
        if (strcmp(s->name, v->name) != 0 || memcmp(s->keyid, v->keyid, NOTE_KEYID_LEN) != 0)
            continue;
        found = 1;
        if (s->blob_len != S_ED25519_BLOB ||
            crypto_sign_verify_detached(s->blob + NOTE_KEYID_LEN,
                                        (const uint8_t *) note->body,
                                        note->body_len, v->pk) != 0)
            return COFAB_EBADSIG;
    }
    return found ? 0 : COFAB_ENOTFOUND;
}

/* Appends "— name base64(blob)\n" and a NUL at out + *pos. */
static int
s_put_sigline(char *out, size_t out_len, size_t *pos, const char *name,
              const uint8_t *blob, size_t blob_len)
{
    char b64[sodium_base64_ENCODED_LEN(S_COSIG_BLOB, sodium_base64_VARIANT_ORIGINAL)];
    size_t name_len = strlen(name);

    sodium_bin2base64(b64, sizeof b64, blob, blob_len, sodium_base64_VARIANT_ORIGINAL);
    size_t b64_len = strlen(b64);
    size_t need = S_SIG_PREFIX_LEN + name_len + 1 + b64_len + 1;
    if (*pos + need > NOTE_MAX_LEN || *pos + need + 1 > out_len)
        return COFAB_ETOOBIG;
    char *p = out + *pos;
    memcpy(p, S_SIG_PREFIX, S_SIG_PREFIX_LEN);
    p += S_SIG_PREFIX_LEN;
    memcpy(p, name, name_len);
    p += name_len;
    *p++ = ' ';
    memcpy(p, b64, b64_len);
    p += b64_len;
    *p++ = '\n';
    *p = '\0';
    *pos += need;
    return 0;
}

int
note_sign(const char *body, size_t body_len, const char *name, const uint8_t sk[64],
          char *out, size_t out_len)
{
    uint8_t pk[32];
    uint8_t blob[S_ED25519_BLOB];
    size_t pos;
    int rc;

    if (!body || !name || !sk || !out)
        return COFAB_EINVAL;
    if (!s_own_name_ok(name, strnlen(name, NOTE_MAX_NAME + 1)))
        return COFAB_EMALFORMED;
    if (body_len > NOTE_MAX_LEN)
        return COFAB_ETOOBIG;
    if (body_len == 0 || body[body_len - 1] != '\n' || body[0] == '\n' ||
        !s_text_ok((const uint8_t *) body, body_len))
        return COFAB_EMALFORMED;
    for (size_t i = 0; i + 1 < body_len; i++)
        if (body[i] == '\n' && body[i + 1] == '\n')
            return COFAB_EMALFORMED;
    if (sodium_init() < 0)
        return COFAB_ECRYPTO;

    crypto_sign_ed25519_sk_to_pk(pk, sk);
    note_keyid(name, NOTE_ALG_ED25519, pk, blob);
    crypto_sign_detached(blob + NOTE_KEYID_LEN, NULL, (const uint8_t *) body, body_len, sk);

    /* Sign first, then write, so out may be the same buffer as body. */
    if (body_len + 1 >= out_len)
        return COFAB_ETOOBIG;
    memmove(out, body, body_len);
    out[body_len] = '\n';
    pos = body_len + 1;
    rc = s_put_sigline(out, out_len, &pos, name, blob, sizeof blob);
    if (rc != 0)
        out[0] = '\0';
    return rc;
}

/* ---- checkpoints ------------------------------------------------------- */

int
checkpoint_format(const checkpoint_t *cp, char *out, size_t out_len, size_t *len)
{
    char root[S_B64_32], chain[S_B64_32];
    size_t olen;
    int n;

    if (!cp || !out || !len)
        return COFAB_EINVAL;
    olen = strnlen(cp->origin, sizeof cp->origin);
    if (olen == 0 || olen > NOTE_MAX_ORIGIN || memchr(cp->origin, '\n', olen) ||
        !s_text_ok((const uint8_t *) cp->origin, olen))
        return COFAB_EMALFORMED;
    sodium_bin2base64(root, sizeof root, cp->root, 32, sodium_base64_VARIANT_ORIGINAL);
    if (cp->has_chain) {
        sodium_bin2base64(chain, sizeof chain, cp->chain, 32, sodium_base64_VARIANT_ORIGINAL);
        n = snprintf(out, out_len, "%.*s\n%" PRIu64 "\n%s\nchain %s\n", (int) olen,
                     cp->origin, cp->size, root, chain);
    } else {
        n = snprintf(out, out_len, "%.*s\n%" PRIu64 "\n%s\n", (int) olen, cp->origin,
                     cp->size, root);
    }
    if (n < 0 || (size_t) n >= out_len) {
        if (out_len > 0)
            out[0] = '\0';
        return COFAB_ETOOBIG;
    }
    *len = (size_t) n;
    return 0;
}

/* Tree size: ASCII decimal, no sign, no leading zero unless it is "0". */
static int
s_parse_size(const char *s, size_t n, uint64_t *out)
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

static int
s_parse_hash(const char *s, size_t n, uint8_t out[32])
{
    return util_b64_decode(out, 32, s, n) == 32 ? 0 : COFAB_EMALFORMED;
}

int
checkpoint_parse(checkpoint_t *cp, const char *body, size_t body_len)
{
    checkpoint_t tmp;
    size_t pos = 0, lineno = 0;

    if (!cp || (!body && body_len > 0))
        return COFAB_EINVAL;
    if (body_len > NOTE_MAX_LEN)
        return COFAB_ETOOBIG;
    if (body_len == 0 || body[body_len - 1] != '\n' ||
        !s_text_ok((const uint8_t *) body, body_len))
        return COFAB_EMALFORMED;
    memset(&tmp, 0, sizeof tmp);
    while (pos < body_len) {
        const char *line = body + pos;
        const char *nl = memchr(line, '\n', body_len - pos);
        size_t n = (size_t) (nl - line);    /* body ends in "\n": nl != NULL */
        if (n == 0)
            return COFAB_EMALFORMED;        /* no empty lines in a checkpoint */
        if (lineno == 0) {
            if (n > NOTE_MAX_ORIGIN)
                return COFAB_EMALFORMED;
            memcpy(tmp.origin, line, n);
        } else if (lineno == 1) {
            if (s_parse_size(line, n, &tmp.size) != 0)
                return COFAB_EMALFORMED;
        } else if (lineno == 2) {
            if (s_parse_hash(line, n, tmp.root) != 0)
                return COFAB_EMALFORMED;
        } else if ((n == 5 || (n > 5 && line[5] == ' ')) && memcmp(line, "chain", 5) == 0) {
            /* Our extension: exactly one "chain <base64 32 bytes>" line. */
            if (tmp.has_chain || n < 6 || s_parse_hash(line + 6, n - 6, tmp.chain) != 0)
                return COFAB_EMALFORMED;
            tmp.has_chain = 1;
        }
        lineno++;
        pos += n + 1;
    }
    if (lineno < 3)
        return COFAB_EMALFORMED;
    *cp = tmp;
    return 0;
}

/* ---- cosignature/v1 ---------------------------------------------------- */

/* Builds "cosignature/v1\ntime <T>\n" || body into msg; returns its length. */
static size_t
s_cosig_message(uint8_t *msg, size_t msg_max, uint64_t timestamp, const char *body,
                size_t body_len)
{
    int n = snprintf((char *) msg, msg_max, S_COSIG_HEADER "time %" PRIu64 "\n", timestamp);
    /* Callers size msg for the header, 20 digits and NOTE_MAX_LEN of body. */
    memcpy(msg + n, body, body_len);
    return (size_t) n + body_len;
}

#define S_COSIG_MSG_MAX (sizeof S_COSIG_HEADER + 32 + NOTE_MAX_LEN)

int
note_cosign(const char *signed_note, size_t signed_len, const char *name,
            const uint8_t sk[64], uint64_t timestamp, char *out, size_t out_len)
{
    uint8_t msg[S_COSIG_MSG_MAX];
    uint8_t pk[32];
    uint8_t blob[S_COSIG_BLOB];
    checkpoint_t cp;
    size_t body_len = 0, nlines = 0, pos;
    int rc;

    if (!signed_note || !name || !sk || !out)
        return COFAB_EINVAL;
    if (!s_own_name_ok(name, strnlen(name, NOTE_MAX_NAME + 1)) || timestamp > S_TIME_MAX)
        return COFAB_EMALFORMED;
    rc = s_split(signed_note, signed_len, &body_len);
    if (rc == 0)
        rc = s_parse_block(signed_note + body_len + 1, signed_len - body_len - 1, NULL,
                           &nlines);
    if (rc == 0)
        rc = checkpoint_parse(&cp, signed_note, body_len);
    if (rc != 0)
        return rc;
    if (nlines >= NOTE_MAX_SIGS)
        return COFAB_ETOOBIG;               /* one more line would not parse */
    if (sodium_init() < 0)
        return COFAB_ECRYPTO;

    crypto_sign_ed25519_sk_to_pk(pk, sk);
    note_keyid(name, NOTE_ALG_COSIG_V1, pk, blob);
    s_be64_put(blob + NOTE_KEYID_LEN, timestamp);
    size_t mlen = s_cosig_message(msg, sizeof msg, timestamp, signed_note, body_len);
    crypto_sign_detached(blob + NOTE_KEYID_LEN + 8, NULL, msg, mlen, sk);

    if (signed_len >= out_len)
        return COFAB_ETOOBIG;
    memmove(out, signed_note, signed_len);
    pos = signed_len;
    rc = s_put_sigline(out, out_len, &pos, name, blob, sizeof blob);
    if (rc != 0)
        out[0] = '\0';
    return rc;
}

int
note_verify_cosignature(const note_t *note, const char *name, const uint8_t pk[32],
                        uint64_t *timestamp)
{
    uint8_t msg[S_COSIG_MSG_MAX];
    uint8_t keyid[NOTE_KEYID_LEN];
    int found = 0;
    uint64_t first_ts = 0;

    if (!note || !name || !pk || note->body_len > NOTE_MAX_LEN || note->nsigs > NOTE_MAX_SIGS)
        return COFAB_EINVAL;
    /* Names are only compared here, so a foreign witness whose name is not
     * one cofab would create can still be checked. */
    size_t name_len = strnlen(name, NOTE_MAX_NAME + 1);
    if (name_len == 0 || name_len > NOTE_MAX_NAME)
        return COFAB_ENOTFOUND;
    if (sodium_init() < 0)
        return COFAB_ECRYPTO;
    note_keyid(name, NOTE_ALG_COSIG_V1, pk, keyid);
    for (size_t i = 0; i < note->nsigs; i++) {
        const note_sig_t *s = &note->sigs[i];
        if (strcmp(s->name, name) != 0 || memcmp(s->keyid, keyid, NOTE_KEYID_LEN) != 0)
            continue;
        if (s->blob_len != S_COSIG_BLOB)
            return COFAB_EBADSIG;
        uint64_t ts = s_be64_get(s->blob + NOTE_KEYID_LEN);
        if (ts > S_TIME_MAX)
            return COFAB_EBADSIG;
        size_t mlen = s_cosig_message(msg, sizeof msg, ts, note->body, note->body_len);
        if (crypto_sign_verify_detached(s->blob + NOTE_KEYID_LEN + 8, msg, mlen, pk) != 0)
            return COFAB_EBADSIG;
        if (!found)
            first_ts = ts;
        found = 1;
    }
    if (!found)
        return COFAB_ENOTFOUND;
    if (timestamp)
        *timestamp = first_ts;
    return 0;
}

int
checkpoint_from_note(checkpoint_t *cp, const char *text, size_t len)
{
    if (!cp || !text)
        return COFAB_EINVAL;
    note_t *note = malloc(sizeof *note); /* ~19 KB: too big for every stack */
    if (!note)
        return COFAB_ENOMEM;
    int rc = note_parse(note, text, len);
    if (rc == 0)
        rc = checkpoint_parse(cp, note->body, note->body_len);
    free(note);
    return rc;
}
