/* tp stat --meta STREAM: a metadata store (tensorpool/meta.h) fed from the
 * metadata stream until the picture is complete, then printed once. */
#include "stat_meta.h"

#include "stop_signal.h"

#include "tensorpool/clock.h"
#include "tensorpool/error.h"
#include "tensorpool/ipc.h"
#include "tensorpool/json_writer.h"
#include "tensorpool/meta.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    tp_meta_store_t *store;
    uint32_t own_uid;
} listen_t;

static void on_msg(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    listen_t *l = clientd;
    tp_meta_store_on_message(l->store, buf, len, info->publisher_uid == l->own_uid);
}

/* Text when every byte is printable ASCII, tab or newline. */
static int is_text(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n') || p[i] > 0x7e) return 0;
    return 1;
}

static void print_text(const tp_meta_store_t *s, const tp_meta_source_t *src)
{
    printf("stream %u \"%s\"", tp_meta_stream_id(s), src->name);
    if (src->summary[0]) printf(" (%s)", src->summary);
    printf(": producer %u, epoch %llu, meta_version %u\n", src->producer_id, (unsigned long long)src->epoch,
           src->meta_version);
    const uint32_t n = tp_meta_attr_count(s);
    if (tp_meta_version(s) == 0) printf("  attributes: none\n");
    else printf("  attributes (version %u): %u\n", tp_meta_version(s), n);
    for (uint32_t i = 0; i < n; i++) {
        tp_meta_attr_view_t v;
        tp_meta_attr(s, i, &v);
        printf("    %s [%s] = ", v.key, v.format[0] ? v.format : "-");
        if (is_text(v.value, v.value_len)) {
            printf("%s\n", (const char *)v.value);
        } else {
            printf("<%u bytes binary>", v.value_len);
            for (uint32_t k = 0; k < v.value_len && k < 32; k++) printf("%s%02x", k ? "" : " ", v.value[k]);
            printf("%s\n", v.value_len > 32 ? "..." : "");
        }
    }
    tp_meta_blob_view_t b;
    if (tp_meta_blob(s, &b)) {
        printf("  blob: type %u, %llu bytes, crc32c 0x%08llx, meta_version %u\n", b.blob_type, (unsigned long long)b.len,
               (unsigned long long)b.checksum, b.meta_version);
        const uint32_t show = b.len < 200 ? (uint32_t)b.len : 200; /* a text blob's beginning */
        if (show > 0 && is_text(b.data, show)) printf("    %.*s%s\n", (int)show, (const char *)b.data, b.len > show ? "..." : "");
    } else
        printf("  blob: none seen\n");
    tp_meta_counters_t c;
    tp_meta_counters(s, &c);
    const uint64_t refused = c.refused_malformed + c.refused_oversized + c.refused_foreign + c.blob_oversized +
                             c.blob_gap + c.blob_overlap + c.blob_checksum + c.blob_malformed;
    if (refused > 0) printf("  refused: %llu metadata messages (see --json)\n", (unsigned long long)refused);
}

static void print_json(const tp_meta_store_t *s, const tp_meta_source_t *src)
{
    tp_json_t j;
    tp_json_init(&j, stdout);
    tp_json_begin_object(&j);
    tp_json_key(&j, "stream_id");
    tp_json_u64(&j, tp_meta_stream_id(s));
    tp_json_key(&j, "name");
    tp_json_cstring(&j, src->name);
    tp_json_key(&j, "summary");
    tp_json_cstring(&j, src->summary);
    tp_json_key(&j, "producer_id");
    tp_json_u64(&j, src->producer_id);
    tp_json_key(&j, "epoch");
    tp_json_u64_string(&j, src->epoch);
    tp_json_key(&j, "meta_version");
    tp_json_u64(&j, src->meta_version);
    tp_json_key(&j, "attributes_version");
    tp_json_u64(&j, tp_meta_version(s));
    tp_json_key(&j, "attributes");
    tp_json_begin_array(&j);
    for (uint32_t i = 0; i < tp_meta_attr_count(s); i++) {
        tp_meta_attr_view_t v;
        tp_meta_attr(s, i, &v);
        tp_json_begin_object(&j);
        tp_json_key(&j, "key");
        tp_json_cstring(&j, v.key);
        tp_json_key(&j, "format");
        tp_json_cstring(&j, v.format);
        if (is_text(v.value, v.value_len)) {
            tp_json_key(&j, "value");
            tp_json_string(&j, (const char *)v.value, v.value_len);
        } else {
            tp_json_key(&j, "value_hex");
            tp_json_hex(&j, v.value, v.value_len);
        }
        tp_json_end_object(&j);
    }
    tp_json_end_array(&j);
    tp_json_key(&j, "blob");
    tp_meta_blob_view_t b;
    if (tp_meta_blob(s, &b)) {
        tp_json_begin_object(&j);
        tp_json_key(&j, "meta_version");
        tp_json_u64(&j, b.meta_version);
        tp_json_key(&j, "blob_type");
        tp_json_u64(&j, b.blob_type);
        tp_json_key(&j, "len");
        tp_json_u64(&j, b.len);
        tp_json_key(&j, "checksum");
        tp_json_u64(&j, b.checksum);
        tp_json_end_object(&j);
    } else {
        tp_json_null(&j);
    }
    tp_meta_counters_t c;
    tp_meta_counters(s, &c);
    tp_json_key(&j, "refused");
    tp_json_begin_object(&j);
    const struct {
        const char *k;
        uint64_t v;
    } f[] = {{"malformed", c.refused_malformed}, {"oversized", c.refused_oversized}, {"foreign", c.refused_foreign},
             {"blob_oversized", c.blob_oversized}, {"blob_gap", c.blob_gap},          {"blob_overlap", c.blob_overlap},
             {"blob_checksum", c.blob_checksum},   {"blob_malformed", c.blob_malformed}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        tp_json_key(&j, f[i].k);
        tp_json_u64(&j, f[i].v);
    }
    tp_json_end_object(&j);
    tp_json_end_object(&j);
    printf("\n");
}

int tp_stat_meta(const tp_client_context_t *ctx, uint32_t stream, int json, int64_t wait_ns)
{
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = ctx->base_dir;
    ipc.namespace_name = ctx->ns;
    listen_t l = {NULL, (uint32_t)geteuid()};
    tp_ipc_subscription_t *sub = NULL;
    if (tp_meta_store_open(&l.store, stream, NULL) != 0 ||
        tp_ipc_subscription_open(&sub, &ipc, ctx->channel, ctx->metadata_stream_id) != 0) {
        fprintf(stderr, "tp stat: %s\n", tp_errmsg());
        tp_meta_store_close(l.store);
        return 1;
    }
    tp_app_catch_stop_signals(false);
    /* Complete: the announce, the attributes of its version, and a blob or
     * one repeat period (1.5 s) after the attributes for one to come. */
    const int64_t start = tp_clock_monotonic_ns(), end = start + wait_ns;
    int64_t attrs_at = 0;
    tp_meta_source_t src;
    while (!tp_app_stop) {
        const int64_t now = tp_clock_monotonic_ns();
        if (now >= end) break;
        if (tp_ipc_subscription_poll(sub, on_msg, &l, 64) > 0) continue;
        if (tp_meta_source(l.store, &src) && tp_meta_current(l.store, src.meta_version)) {
            tp_meta_blob_view_t b;
            if (attrs_at == 0) attrs_at = now;
            if (src.meta_version == 0 || tp_meta_blob(l.store, &b) || now - attrs_at > 1500000000LL) break;
        }
        const struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    tp_ipc_subscription_close(sub);
    int rc = 0;
    if (!tp_meta_source(l.store, &src)) {
        fprintf(stderr, "tp stat: no DataSourceAnnounce of stream %u within %.1f s (is its producer running?)\n", stream,
                (double)wait_ns / 1e9);
        rc = 1;
    } else if (json) {
        print_json(l.store, &src);
    } else {
        print_text(l.store, &src);
    }
    fflush(stdout);
    tp_meta_store_close(l.store);
    return rc;
}
