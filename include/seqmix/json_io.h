/* JSON files through jansson. Every file seqmix writes is an object with "schema_version" and
 * "kind" ("check", "bench", "hardware", ...), written atomically (temp file, fsync, rename) so an
 * interrupted run never leaves a half-written result. Reading checks both keys and reports a
 * truncated or corrupt file as one line naming the file, the line and column. */
#ifndef SEQMIX_JSON_IO_H
#define SEQMIX_JSON_IO_H

#include <jansson.h>
#include <stddef.h>

#include "seqmix/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMX_SCHEMA_VERSION 1

/* {"schema_version": 1, "kind": kind} — the start of every file seqmix writes. */
json_t *smx_json_new_doc(const char *kind);
smx_status smx_json_write_atomic(const char *path, json_t *root);
/* Reads path, requires an object of schema SMX_SCHEMA_VERSION and, when kind is not NULL, that kind. */
smx_status smx_json_read_doc(const char *path, const char *kind, json_t **out);

smx_status smx_write_file_atomic(const char *path, const char *data, size_t len);
smx_status smx_mkdir_p(const char *path);
int smx_file_exists(const char *path);

#ifdef __cplusplus
}
#endif
#endif
