/* The transport of a multi-process test: $TP_TEST_CHANNEL (ctest registers
 * such tests once per transport, the Aeron run as NAME_aeron), default
 * tp:ipc. For an Aeron channel every process of the deployment is pointed at
 * it (DRIVER_CONTROL_CHANNEL, DRIVER_QOS_CHANNEL) and the test process runs
 * the media driver, as an aeronmd beside the deployment would, in the test's
 * TP_DIR where the driver and the clients look for it by default; killing
 * the tp driver then leaves the transport up. */
#ifndef TP_TEST_TRANSPORT_H
#define TP_TEST_TRANSPORT_H

#include "ipc/ipc_media_driver.h"
#include "test_channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tp_ipc_media_driver_t *tp_test_deployment_md;

/* Call after creating the test's base dir, before starting processes. */
static inline void tp_test_deployment_transport_start(const char *base_dir)
{
    if (tp_test_channel_is_embedded()) return;
    const char *channel = tp_test_channel();
    setenv("DRIVER_CONTROL_CHANNEL", channel, 1);
    setenv("DRIVER_QOS_CHANNEL", channel, 1);
    setenv("AERON_TERM_BUFFER_SPARSE_FILE", "true", 1);
    unsetenv("AERON_DIR"); /* every process finds it under TP_DIR */
    tp_ipc_context_t ipc;
    tp_ipc_context_init(&ipc);
    ipc.base_dir = base_dir;
    if (tp_ipc_media_driver_start(&tp_test_deployment_md, &ipc, NULL) != 0) {
        fprintf(stderr, "media driver: %s\n", tp_errmsg());
        exit(1);
    }
}

/* Call after the last process is gone, before removing the dir. */
static inline void tp_test_deployment_transport_stop(void)
{
    tp_ipc_media_driver_stop(tp_test_deployment_md);
    tp_test_deployment_md = NULL;
}

#endif
