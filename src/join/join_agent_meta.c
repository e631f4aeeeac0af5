/* JoinBarrierAgent, per-input metadata (docs/spec/wire.md §10.3): one store
 * per input (tensorpool/meta.h), allocated at create, fed from one
 * subscription to the metadata stream; taken only from transport logs this
 * uid owns, as control messages are. */
#include "join_agent_impl.h"

#include "tensorpool/join_agent.h"
#include "tensorpool/meta.h"

int ja_meta_open(tp_join_agent_t *a)
{
    for (uint32_t i = 0; i < a->ninputs; i++)
        if (tp_meta_store_open(&a->inputs[i].meta, a->inputs[i].stream_id, NULL) != 0) return -1;
    return tp_ipc_subscription_open(&a->meta_sub, &a->ipc, a->channel, a->client.metadata_stream_id);
}

static void on_meta(void *clientd, const uint8_t *buf, size_t len, const tp_ipc_msg_info_t *info)
{
    tp_join_agent_t *a = clientd;
    const int trusted = info == NULL || info->publisher_uid == a->own_uid;
    for (uint32_t i = 0; i < a->ninputs; i++)
        if (tp_meta_store_on_message(a->inputs[i].meta, buf, len, trusted) != 0) a->work++;
}

void ja_meta_poll(tp_join_agent_t *a)
{
    if (a->meta_sub != NULL) tp_ipc_subscription_poll(a->meta_sub, on_meta, a, a->cfg.poll_limit);
}

void ja_meta_close(tp_join_agent_t *a)
{
    tp_ipc_subscription_close(a->meta_sub);
    a->meta_sub = NULL;
}

void ja_meta_free(tp_join_agent_t *a)
{
    for (uint32_t i = 0; i < a->ninputs; i++) {
        tp_meta_store_close(a->inputs[i].meta);
        a->inputs[i].meta = NULL;
    }
}

const tp_meta_store_t *tp_join_agent_input_meta(const tp_join_agent_t *a, uint32_t stream_id)
{
    const uint32_t i = ja_input_find(a, stream_id);
    return i == NO_INPUT ? NULL : a->inputs[i].meta;
}

void tp_join_agent_on_meta(tp_join_agent_t *a, tp_meta_handler_t h, void *clientd)
{
    for (uint32_t i = 0; i < a->ninputs; i++) tp_meta_store_set_handler(a->inputs[i].meta, h, clientd);
}
