/* gateway_page.c — the order page: HTML a phone can read, with inline CSS, and inline JS that re-checks the proofs with WebCrypto. */
#include "gateway_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/policy.h"

/* The page's only style and script. The CSP names their SHA-256, so the
 * browser runs these and nothing else (no other inline code, no URL). */
static const char s_css[] =
    "body{margin:0;background:#f4f5f7;color:#1d2330;font:16px/1.45 system-ui,-apple-system,"
    "'Segoe UI',Roboto,sans-serif}"
    "main{max-width:40rem;margin:0 auto;padding:1rem}"
    "header .origin{margin:0;color:#5b6475;font-size:.85rem}"
    "h1{margin:.2rem 0;font-size:1.5rem;line-height:1.2}"
    "h2{font-size:1.1rem;margin:1.5rem 0 .5rem}"
    ".id{margin:0;color:#5b6475;font-size:.85rem;word-break:break-all}"
    ".card{background:#fff;border-radius:.75rem;padding:1rem;margin:1rem 0;"
    "box-shadow:0 1px 3px rgba(0,0,0,.08)}"
    ".label{margin:0;color:#5b6475;font-size:.8rem;text-transform:uppercase;letter-spacing:.05em}"
    ".state{margin:.1rem 0 .6rem;font-size:1.35rem;font-weight:700}"
    ".steps{display:flex;list-style:none;margin:0;padding:0;gap:3px}"
    ".steps li{flex:1;height:.5rem;border-radius:.25rem;background:#dde1e8;font-size:0;"
    "overflow:hidden}"
    ".steps li.done{background:#2e8b57}.steps li.cur{background:#1f6feb}"
    ".stepnote{margin:.4rem 0 0;color:#5b6475;font-size:.85rem}"
    "dl{margin:0;display:grid;grid-template-columns:max-content 1fr;gap:.3rem .8rem}"
    "dt{color:#5b6475}dd{margin:0;font-weight:600;word-break:break-word}"
    ".badge{border-left:.4rem solid #8a94a6}.badge.ok{border-color:#2e8b57;background:#eefaf2}"
    ".badge.wait{border-color:#d29922;background:#fff8e6}"
    ".badge.bad{border-color:#cf222e;background:#ffeef0}"
    ".badge-title{margin:0 0 .3rem;font-weight:700;font-size:1.1rem}"
    ".badge p{margin:0}.badge .small{margin-top:.4rem;font-size:.85rem;color:#5b6475}"
    ".timeline{list-style:none;margin:0;padding:0 0 0 1rem;border-left:2px solid #c9ced8}"
    ".timeline li{position:relative;margin:0 0 1rem;padding-left:.6rem}"
    ".timeline li::before{content:'';position:absolute;left:-1.45rem;top:.35rem;width:.7rem;"
    "height:.7rem;border-radius:50%;background:#1f6feb;border:2px solid #f4f5f7}"
    ".what{margin:0;font-weight:700}.when,.proof{margin:0;color:#5b6475;font-size:.85rem}"
    ".detail{margin:.1rem 0;word-break:break-word}"
    ".proof.ok{color:#2e8b57}.proof.bad{color:#cf222e}"
    "details{margin:1rem 0;font-size:.85rem}"
    "pre{white-space:pre-wrap;word-break:break-all;background:#fff;padding:.6rem;"
    "border-radius:.5rem}"
    ".foot{color:#5b6475;font-size:.8rem}a{color:#1f6feb}";

static const char s_js[] =
    "(function(){'use strict';"
    "var $=function(i){return document.getElementById(i)};"
    "var badge=$('badge'),title=$('badge-title'),text=$('badge-text');"
    "function say(c,t,m){badge.className='card badge '+c;title.textContent=t;"
    "text.textContent=m}"
    "function fail(m){say('bad','\\u2717 Verification failed in your browser',m)}"
    "var data;try{data=JSON.parse($('proof-data').textContent)}catch(e){return}"
    "if(!data.entries.length)return;"
    "var subtle=window.crypto&&window.crypto.subtle;"
    "if(!subtle){text.textContent+=' Your browser cannot re-check this itself: WebCrypto "
    "(crypto.subtle) is not available on this connection.';return}"
    "function bytes(s){var b=atob(s),o=new Uint8Array(b.length);"
    "for(var i=0;i<b.length;i++)o[i]=b.charCodeAt(i);return o}"
    "function cat(){var n=0,i,a=arguments,o,at=0;for(i=0;i<a.length;i++)n+=a[i].length;"
    "o=new Uint8Array(n);for(i=0;i<a.length;i++){o.set(a[i],at);at+=a[i].length}return o}"
    "function same(a,b){if(a.length!==b.length)return false;var d=0;"
    "for(var i=0;i<a.length;i++)d|=a[i]^b[i];return d===0}"
    "async function sha(b){return new Uint8Array(await subtle.digest('SHA-256',b))}"
    "var ZERO=new Uint8Array([0]),ONE=new Uint8Array([1]);"
    /* RFC 9162 2.1.3.2; halving with Math.floor: bit operators are 32-bit. */
    "async function included(index,size,leaf,proof,root){"
    "if(index>=size)return false;var fn=index,sn=size-1,r=leaf;"
    "for(var i=0;i<proof.length;i++){if(sn===0)return false;"
    "if(fn%2===1||fn===sn){r=await sha(cat(ONE,proof[i],r));"
    "while(fn!==0&&fn%2===0){fn=Math.floor(fn/2);sn=Math.floor(sn/2)}}"
    "else r=await sha(cat(ONE,r,proof[i]));"
    "fn=Math.floor(fn/2);sn=Math.floor(sn/2)}"
    "return sn===0&&same(r,root)}"
    "async function ed(pk,msg,sig){var k;try{k=await subtle.importKey('raw',pk,"
    "{name:'Ed25519'},false,['verify'])}catch(e){return null}"
    "try{return await subtle.verify({name:'Ed25519'},k,sig,msg)}catch(e){return false}}"
    "function be64(b){var t=0n;for(var i=0;i<8;i++)t=t*256n+BigInt(b[i]);return t.toString()}"
    "async function run(){"
    "var note=data.checkpoint,cut=note.lastIndexOf('\\n\\n');"
    "if(cut<0)return fail('The checkpoint on this page does not parse.');"
    "var body=note.slice(0,cut+1),lines=body.split('\\n'),size=Number(lines[1]);"
    "var root=bytes(lines[2]);"
    "if(size!==data.size||!same(root,bytes(data.root)))"
    "return fail('The checkpoint on this page does not match its proofs.');"
    "for(var e of data.entries){var leaf=await sha(cat(ZERO,bytes(e.record)));"
    "if(!(await included(e.index,size,leaf,e.proof.map(bytes),root)))"
    "return fail('Record #'+e.index+' is not in the checkpoint: do not trust this page.');"
    "var m=$('p-'+e.index);if(m)m.textContent='\\u2713 in the checkpoint, checked by your "
    "browser'}"
    "var enc=new TextEncoder(),msg=enc.encode(body),hub=null,none=false,seen={},cos=0;"
    "var dash=String.fromCharCode(0x2014);"
    "for(var line of note.slice(cut+2).split('\\n')){var f=line.split(' ');"
    "if(f.length!==3||f[0]!==dash)continue;var blob;try{blob=bytes(f[2])}catch(x){continue}"
    "if(f[1]===data.hub.name&&blob.length===68){"
    "var ok=await ed(bytes(data.hub.key),msg,blob.slice(4));"
    "if(ok===null)none=true;else if(!ok)return fail('The hub signature on the checkpoint "
    "does not verify.');else hub=true}"
    "for(var w of data.witnesses){if(f[1]!==w.name||blob.length!==76)continue;"
    "var cm=cat(enc.encode('cosignature/v1\\ntime '+be64(blob.slice(4,12))+'\\n'),msg);"
    "var good=await ed(bytes(w.key),cm,blob.slice(12));"
    "if(good===null)none=true;else if(!good)return fail('The cosignature of witness '+w.name+"
    "' does not verify.');else if(!seen[w.name]){seen[w.name]=1;cos++}}}"
    "var n=data.entries.length,what=(n===data.records?'all '+n:n+' of '+data.records)+"
    "' records of this order',cp=' (checkpoint of '+size+' records)';"
    "if(none)return say('ok','\\u2713 Proofs verified in your browser','Your browser checked "
    "that '+what+' are in the alliance ledger'+cp+'. It cannot check Ed25519 signatures, so "
    "for the signatures it relies on the server.');"
    "if(!hub)return fail('The checkpoint carries no signature by the hub.');"
    "if(cos<data.quorum)return say('wait','Waiting for witnesses','Your browser checked that '"
    "+what+' are in the ledger'+cp+' signed by the hub, but only '+cos+' of the '"
    "+data.quorum+' witness cosignatures required are there yet. Reload in a moment.');"
    "say('ok','\\u2713 Verified in your browser','Your browser checked that '+what+' are in "
    "the alliance ledger'+cp+', that the hub signed it, and that '+cos+' of '+"
    "data.witnesses.length+' witnesses cosigned it ('+data.quorum+' required).')}"
    "run().catch(function(e){text.textContent+=' (Your browser could not re-check this page: '"
    "+e.message+')'})})();";

static void
s_b64_hash(const char *text, char *out, size_t max)
{
    uint8_t h[32];
    crypto_hash_sha256(h, (const uint8_t *) text, strlen(text));
    sodium_bin2base64(out, max, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
}

void
gw_page_csp(char out[GW_CSP_MAX])
{
    char js[64], css[64];
    s_b64_hash(s_js, js, sizeof js);
    s_b64_hash(s_css, css, sizeof css);
    snprintf(out, GW_CSP_MAX,
             "default-src 'none'; script-src 'sha256-%s'; style-src 'sha256-%s'; img-src data:; "
             "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
             js, css);
}

/* The progress bar: placed .. delivered, the current step highlighted. */
static void
s_steps(gw_buf_t *b, int state)
{
    int at = state == POLICY_DECLINED ? POLICY_SUBMITTED : state;
    gw_buf_cat(b, "<ol class=\"steps\">");
    static const char *const names[] = {"Placed", "Factory found", "Accepted", "In production",
                                        "Quality checked", "Shipped", "Delivered"};
    for (int s = POLICY_SUBMITTED; s <= POLICY_DELIVERED; s++)
        gw_buf_catf(b, "<li%s>%s</li>",
                    at > POLICY_DELIVERED ? ""
                    : s < at             ? " class=\"done\""
                    : s == at            ? (s == POLICY_DELIVERED ? " class=\"done\"" : " class=\"cur\"")
                                         : "",
                    names[s - 1]);
    gw_buf_cat(b, "</ol>");
    if (at >= POLICY_SUBMITTED && at <= POLICY_DELIVERED)
        gw_buf_catf(b, "<p class=\"stepnote\">Step %d of 7: %s</p>", at, names[at - 1]);
}

/* The server's verdict, which the script may replace with its own. */
static void
s_badge(gw_buf_t *b, const gateway_t *gw, const gw_order_t *o)
{
    const char *cls, *title;
    char text[640];
    unsigned long long size = o->has_cp ? (unsigned long long) o->cp.cp.size : 0;
    unsigned q = gw->trust.witnesses.quorum, w = gw->trust.witnesses.n;
    if (o->has_cp && (!o->cp.hub_signed || o->cp.forged || o->bad_proof)) {
        cls = "bad";
        title = "\u2717 Verification failed";
        snprintf(text, sizeof text, "%s Do not rely on this page; tell the alliance operator.",
                 !o->cp.hub_signed ? "The latest checkpoint does not carry a valid hub signature."
                 : o->cp.forged    ? "A witness cosignature on the latest checkpoint is forged."
                                   : "A record's inclusion proof does not lead to the checkpoint.");
    } else if (!o->has_cp || o->proven == 0) {
        cls = "wait";
        title = "Not verified yet";
        snprintf(text, sizeof text, "This order's records are newer than the latest checkpoint "
                                    "of the alliance ledger; the next one will cover them. "
                                    "Reload in a moment.");
    } else if (!o->cp.witnessed) {
        cls = "wait";
        title = "Waiting for witnesses";
        snprintf(text, sizeof text, "The records are in the checkpoint of %llu records signed by "
                                    "the hub, which carries %u of the %u witness cosignatures "
                                    "required so far. Reload in a moment.",
                 size, o->cp.cosigned, q);
    } else {
        cls = "ok";
        title = "\u2713 Verified";
        snprintf(text, sizeof text, "The server checked that %s%zu records of this order are in "
                                    "the alliance ledger: checkpoint of %llu records, signed by "
                                    "the hub and cosigned by %u of %u witnesses (%u required).",
                 o->proven == o->n ? "all " : "", o->proven, size, o->cp.cosigned, w, q);
    }
    gw_buf_catf(b, "<section id=\"badge\" class=\"card badge %s\"><p id=\"badge-title\" "
                   "class=\"badge-title\">%s</p><p id=\"badge-text\">",
                cls, title);
    gw_buf_html(b, text);
    gw_buf_cat(b, "</p>");
    if (o->proven < o->n)
        gw_buf_catf(b, "<p class=\"small\">%zu newer record%s will be covered by the next "
                       "checkpoint.</p>",
                    o->n - o->proven, o->n - o->proven == 1 ? "" : "s");
    gw_buf_cat(b, "</section>");
}

static void
s_timeline(gw_buf_t *b, const gw_order_t *o)
{
    gw_buf_cat(b, "<h2>Timeline</h2><ol class=\"timeline\">");
    for (size_t i = 0; i < o->n; i++) {
        const gw_event_t *ev = &o->events[i];
        char when[32];
        gw_time_text(ev->time_ms, when);
        gw_buf_cat(b, "<li><p class=\"what\">");
        gw_buf_html(b, ev->event);
        gw_buf_catf(b, "</p><p class=\"when\">%s &middot; ledger record #%llu</p>", when,
                    (unsigned long long) ev->position);
        if (ev->detail[0]) {
            gw_buf_cat(b, "<p class=\"detail\">");
            gw_buf_html(b, ev->detail);
            gw_buf_cat(b, "</p>");
        }
        gw_buf_catf(b, "<p class=\"proof%s\" id=\"p-%llu\">%s</p></li>",
                    ev->proven ? " ok" : ev->proof ? " bad" : "", (unsigned long long) ev->position,
                    ev->proven  ? "\u2713 in the checkpoint"
                    : ev->proof ? "\u2717 proof does not verify"
                                : "waiting for the next checkpoint");
    }
    gw_buf_cat(b, "</ol>");
}

static void
s_facts(gw_buf_t *b, const gw_order_t *o)
{
    char day[16];
    gw_buf_cat(b, "<dl class=\"card\"><dt>Items</dt><dd>");
    for (uint32_t i = 0; i < o->order.nitems; i++) {
        gw_buf_catf(b, "%s%lld &times; ", i ? "<br>" : "", (long long) o->order.items[i].qty);
        gw_buf_html(b, o->order.items[i].process);
        gw_buf_cat(b, " (");
        gw_buf_html(b, o->order.items[i].material);
        gw_buf_cat(b, ")");
    }
    gw_day_text(o->order.due_day, day);
    gw_buf_catf(b, "</dd><dt>Due</dt><dd>%s</dd><dt>Made by</dt><dd>", day);
    gw_buf_html(b, o->factories[0] ? o->factories : "not assigned yet");
    gw_buf_cat(b, "</dd></dl>");
}

/* The proof data as JSON made safe for a <script> element: '<', '>' and
 * '&' (only ever inside JSON strings) become \u escapes. */
static void
s_data(gw_buf_t *b, const char *json)
{
    for (const char *p = json; *p; p++) {
        const char *run = p;
        while (*p && *p != '<' && *p != '>' && *p != '&')
            p++;
        gw_buf_catn(b, run, (size_t) (p - run));
        if (!*p)
            break;
        gw_buf_cat(b, *p == '<' ? "\\u003c" : *p == '>' ? "\\u003e" : "\\u0026");
    }
}

void
gw_order_page(gateway_t *gw, const char *id, gw_reply_t *r)
{
    gw_order_t *o = NULL;
    int rc = gw_order_load(gw, id, &o);
    if (rc != 0) {
        gw_reply_text(r, rc == COFAB_ENOTFOUND ? 404 : 503,
                      rc == COFAB_ENOTFOUND ? "not found\n" : "unavailable\n");
        return;
    }
    char *data = gw_order_proof_json(gw, o);
    if (!data) {
        gw_order_free(&o);
        gw_reply_text(r, 503, "out of memory\n");
        return;
    }
    gw_buf_t *b = &r->body;
    const char *title = o->order.title[0] ? o->order.title : "Your order";
    gw_buf_cat(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<meta name=\"referrer\" content=\"no-referrer\">"
                  "<link rel=\"icon\" href=\"data:,\"><title>");
    gw_buf_html(b, title);
    gw_buf_cat(b, " &middot; order status</title><style>");
    gw_buf_cat(b, s_css);
    gw_buf_cat(b, "</style></head><body><main><header><p class=\"origin\">");
    gw_buf_html(b, gw->trust.origin);
    gw_buf_cat(b, "</p><h1>");
    gw_buf_html(b, title);
    gw_buf_catf(b, "</h1><p class=\"id\">Order %s</p></header>", o->hex);
    gw_buf_catf(b, "<section class=\"card\"><p class=\"label\">Status</p><p class=\"state\">%s</p>",
                gw_state_text(o->state));
    s_steps(b, o->state);
    gw_buf_cat(b, "</section>");
    s_facts(b, o);
    s_badge(b, gw, o);
    s_timeline(b, o);
    if (o->has_cp) {
        gw_buf_cat(b, "<details><summary>The checkpoint these proofs lead to</summary><pre>");
        gw_buf_html(b, o->note);
        gw_buf_cat(b, "</pre></details>");
    }
    gw_buf_catf(b, "<p class=\"foot\">This page reads the alliance's tamper-evident ledger. "
                   "For programs: <a href=\"/api/orders/%s\">this order as JSON</a>, "
                   "<a href=\"/checkpoint\">the latest checkpoint</a>.</p></main>"
                   "<script type=\"application/json\" id=\"proof-data\">",
                o->hex);
    s_data(b, data);
    gw_buf_cat(b, "</script><script>");
    gw_buf_cat(b, s_js);
    gw_buf_cat(b, "</script></body></html>\n");
    free(data);
    gw_order_free(&o);
    r->status = 200;
    r->type = "text/html; charset=utf-8";
    r->cache = "no-cache";
    r->page = 1;
}
