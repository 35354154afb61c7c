/* Status codes and the thread-local "last error" line (see include/seqmix/status.h). */
#include "seqmix/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];

const char *smx_status_name(smx_status s) {
  switch (s) {
  case SMX_OK: return "ok";
  case SMX_ERR_INVALID: return "invalid argument";
  case SMX_ERR_UNSUPPORTED: return "unsupported";
  case SMX_ERR_NO_DEVICE: return "no device";
  case SMX_ERR_NOMEM: return "out of memory";
  case SMX_ERR_IO: return "i/o error";
  case SMX_ERR_PARSE: return "corrupt input";
  case SMX_ERR_BACKEND: return "backend error";
  case SMX_ERR_CHECK: return "check failed";
  }
  return "unknown status";
}

int smx_status_exit_code(smx_status s) {
  switch (s) {
  case SMX_OK: return SMX_EXIT_OK;
  case SMX_ERR_INVALID:
  case SMX_ERR_IO:
  case SMX_ERR_PARSE:
  case SMX_ERR_UNSUPPORTED: return SMX_EXIT_USAGE;
  default: return SMX_EXIT_FAIL;
  }
}

smx_status smx_fail(smx_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return s;
}

const char *smx_last_error(void) { return last_error[0] ? last_error : "no error recorded"; }
void smx_clear_error(void) { last_error[0] = 0; }
