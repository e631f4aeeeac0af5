/* Mapping the regions of a lease (client layer internal). */
#ifndef TP_CLIENT_MAP_H
#define TP_CLIENT_MAP_H

#include "tensorpool/client.h"
#include "tensorpool/driver_client.h"
#include "tensorpool/shm_path.h"
#include "tensorpool/shm_writer.h"

/* Allowed bases for containment: the context's base_dir (D-9.b). */
int tp_client_bases(const tp_client_context_t *ctx, tp_shm_bases_t *bases);

/* Producer: map every region of the lease read-write into w, after the same
 * containment, no-follow, regular-file and superblock checks a consumer
 * makes (docs/spec/wire.md §5.7; D-3.c: the URIs are authoritative, nothing is
 * created). w is then usable with tp_shm_writer_claim/commit; seq starts at
 * 0 (§5.3). All or nothing. */
int tp_client_map_writer(tp_shm_writer_t *w, const tp_shm_bases_t *bases, const tp_lease_t *lease, uint64_t now_ns);

/* Periodic check of a mapped writer (not per frame): 0 if every region is
 * still backed by its file and its superblock still names epoch; else -1
 * with the reason (TP_ERR_TRUNCATED: a file was truncated and the mapping is
 * zeros now; TP_ERR_MALFORMED: a superblock was overwritten). */
int tp_client_writer_check(const tp_shm_writer_t *w, uint64_t epoch);

/* Unmap a writer mapped by tp_client_map_writer (never unlinks, D-2.2.b). */
void tp_client_unmap_writer(tp_shm_writer_t *w);

#endif
