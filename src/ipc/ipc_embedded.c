/* The embedded backend's operation table ("tp:ipc"). */
#include "ipc_embedded.h"

const tp_ipc_backend_t tp_ipc_embedded_backend = {
    .name = "tp:ipc",
    .publication_open = tp_ipc_embedded_publication_open,
    .offer = tp_ipc_embedded_offer,
    .try_claim = tp_ipc_embedded_try_claim,
    .commit = tp_ipc_embedded_commit,
    .abort = tp_ipc_embedded_abort,
    .publication_close = tp_ipc_embedded_publication_close,
    .subscription_open = tp_ipc_embedded_subscription_open,
    .poll = tp_ipc_embedded_poll,
    .loss_count = tp_ipc_embedded_loss_count,
    .image_count = tp_ipc_embedded_image_count,
    .error_count = tp_ipc_embedded_error_count,
    .subscription_close = tp_ipc_embedded_subscription_close,
};
