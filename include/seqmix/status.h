/* seqmix status codes.
 *
 * Library functions return an smx_status and never exit. On failure they record one
 * human-readable line (thread-local) that names the bad value and what is accepted;
 * smx_last_error() returns it, and the CLI prints it as "seqmix: error: <line>".
 */
#ifndef SEQMIX_STATUS_H
#define SEQMIX_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum smx_status {
  SMX_OK = 0,
  SMX_ERR_INVALID,     /* bad argument: unknown name, wrong or absurd shape, bad flag */
  SMX_ERR_UNSUPPORTED, /* the variant or device cannot do this configuration */
  SMX_ERR_NO_DEVICE,   /* no usable GPU (no driver, no device, built without CUDA) */
  SMX_ERR_NOMEM,       /* an allocation failed */
  SMX_ERR_IO,          /* a file could not be read or written */
  SMX_ERR_PARSE,       /* a file was read but is corrupt, truncated or of another schema */
  SMX_ERR_BACKEND,     /* CUDA, cuBLAS, cuFFT or FFTW reported a failure */
  SMX_ERR_CHECK,       /* a correctness check failed */
} smx_status;

/* Exit codes of the seqmix command (DESIGN.md): 0 success, 1 a check failed (or a run-time
 * failure), 2 usage error or bad input. */
enum { SMX_EXIT_OK = 0, SMX_EXIT_FAIL = 1, SMX_EXIT_USAGE = 2 };

const char *smx_status_name(smx_status s);
int smx_status_exit_code(smx_status s);

/* Records the message (printf-style) as the last error and returns s, so library code can
 * write `return smx_fail(SMX_ERR_INVALID, "L=%lld is out of range", l);`. */
smx_status smx_fail(smx_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *smx_last_error(void);
void smx_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
