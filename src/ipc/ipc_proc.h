/* Embedded IPC: process identity and liveness, for reclaiming dead logs.
 * A process is identified by pid plus its start time (field 22 of
 * /proc/<pid>/stat), so a recycled pid is not mistaken for the owner. */
#ifndef TP_IPC_PROC_H
#define TP_IPC_PROC_H

#include <stdint.h>

/* Start time of pid in clock ticks since boot. 0 on success; -1 if the process
 * does not exist, is a zombie, or its stat line cannot be parsed. */
int tp_ipc_proc_start_time(int pid, uint64_t *start_time);

/* 1 if the process pid with this start time is alive, else 0. */
int tp_ipc_proc_alive(int pid, uint64_t start_time);

#endif
