/* tensorpool: the whole user API in one include.
 *
 *   #include <tensorpool/tensorpool.h>
 *   cc prog.c $(pkg-config --cflags --libs tensorpool)
 *
 * Everything declared TP_API in these headers is exported from
 * libtensorpool.so (abi/libtensorpool.symbols); docs/user-guide.md walks
 * through it with complete programs.
 */
#ifndef TENSORPOOL_TENSORPOOL_H
#define TENSORPOOL_TENSORPOOL_H

#include "tensorpool/error.h"  /* tp_errcode, tp_errmsg: why a call returned -1 */
#include "tensorpool/clock.h"  /* tp_clock_monotonic_ns: the clock every now_ns argument takes */
#include "tensorpool/agent.h"  /* agents, runners, invokers, idle strategies */

#include "tensorpool/client.h"        /* tp_client_context_t: dir, namespace, stream ids, timers */
#include "tensorpool/tensor_header.h" /* describing a frame's tensor */
#include "tensorpool/producer.h"
#include "tensorpool/consumer.h"
#include "tensorpool/driver_client.h" /* a producer's or consumer's lease, read-only */

#include "tensorpool/driver_config.h"
#include "tensorpool/driver.h" /* a driver in this process (embedded) or as an agent */

#include "tensorpool/ipc.h" /* the tp:ipc transport */
#include "tensorpool/merge_map.h"
#include "tensorpool/merge_map_authority.h"
#include "tensorpool/join_barrier.h"
#include "tensorpool/join_agent.h"
#include "tensorpool/join_explain.h"

#include "tensorpool/monitor.h" /* what tp stat shows, for a program */

#endif
