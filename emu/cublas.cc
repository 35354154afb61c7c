/* The CUDA emulator's cuBLAS (emu/cuda_emu.h): the calls seqmix makes, on OpenBLAS, with cuBLAS's
 * column-major conventions and argument checks (a bad leading dimension is
 * CUBLAS_STATUS_INVALID_VALUE, as cuBLAS answers, not a wrong product). Every math mode computes in
 * fp32: seqmix asks for CUBLAS_PEDANTIC_MATH or the default, neither of which uses TF32.
 * cublasGemmStridedBatchedEx takes fp32 or bf16 operands and fp32 compute, as seqmix uses it. */
#include <cblas.h>
#include <cublas_v2.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "emu/cuda_emu.h"

struct cublasContext {
  cublasMath_t math;
  cudaStream_t stream;
};

namespace {

CBLAS_TRANSPOSE cblas_op(cublasOperation_t op) { return op == CUBLAS_OP_N ? CblasNoTrans : CblasTrans; }

bool valid_op(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

/* cuBLAS's checks for C = op(A) op(B): m x n result, k inner */
bool gemm_args_ok(cublasOperation_t ta, cublasOperation_t tb, long m, long n, long k, long lda, long ldb, long ldc) {
  if (!valid_op(ta) || !valid_op(tb) || m < 0 || n < 0 || k < 0) return false;
  long rows_a = ta == CUBLAS_OP_N ? m : k, rows_b = tb == CUBLAS_OP_N ? k : n;
  return lda >= (rows_a > 1 ? rows_a : 1) && ldb >= (rows_b > 1 ? rows_b : 1) && ldc >= (m > 1 ? m : 1);
}

void sgemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const float *A, int lda,
           const float *B, int ldb, float beta, float *C, int ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) { /* C = beta C; beta = 0 writes zeros without reading C */
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) C[(size_t)j * ldc + i] = beta == 0.0f ? 0.0f : beta * C[(size_t)j * ldc + i];
    return;
  }
  if (beta == 0.0f)
    for (int j = 0; j < n; j++) memset(C + (size_t)j * ldc, 0, (size_t)m * sizeof(float));
  cblas_sgemm(CblasColMajor, cblas_op(ta), cblas_op(tb), m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

float load(const void *p, cudaDataType t, size_t i) {
  if (t == CUDA_R_32F) return ((const float *)p)[i];
  uint32_t u = (uint32_t)((const uint16_t *)p)[i] << 16;
  float v;
  memcpy(&v, &u, 4);
  return v;
}
void store(void *p, cudaDataType t, size_t i, float v) {
  if (t == CUDA_R_32F) {
    ((float *)p)[i] = v;
    return;
  }
  ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
}

/* a column-major rows x cols matrix with leading dimension ld as dense fp32 */
std::vector<float> dense(const void *p, cudaDataType t, long rows, long cols, long ld) {
  std::vector<float> out((size_t)rows * cols);
  for (long j = 0; j < cols; j++)
    for (long i = 0; i < rows; i++) out[(size_t)j * rows + i] = load(p, t, (size_t)j * ld + i);
  return out;
}

} // namespace

extern "C" {

cublasStatus_t cublasCreate(cublasHandle_t *h) {
  *h = (cublasHandle_t)calloc(1, sizeof(cublasContext));
  return *h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
  free(h);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  h->stream = s;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  h->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetVersion(cublasHandle_t h, int *v) {
  (void)h;
  *v = CUBLAS_VERSION;
  return CUBLAS_STATUS_SUCCESS;
}
const char *cublasGetStatusString(cublasStatus_t s) {
  switch (s) {
  case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
  case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
  case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
  case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
  case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
  default: return "cuBLAS error (emulated)";
  }
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!gemm_args_ok(ta, tb, m, n, k, lda, ldb, ldc)) return CUBLAS_STATUS_INVALID_VALUE;
  sgemm(ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float *alpha, const float *A, int lda, long long sA,
                                         const float *B, int ldb, long long sB, const float *beta, float *C, int ldc,
                                         long long sC, int batch) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!gemm_args_ok(ta, tb, m, n, k, lda, ldb, ldc) || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
  for (int b = 0; b < batch; b++)
    sgemm(ta, tb, m, n, k, *alpha, A + b * sA, lda, B + b * sB, ldb, *beta, C + b * sC, ldc);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                          int k, const void *alpha, const void *A, cudaDataType At, int lda,
                                          long long sA, const void *B, cudaDataType Bt, int ldb, long long sB,
                                          const void *beta, void *C, cudaDataType Ct, int ldc, long long sC,
                                          int batch, cublasComputeType_t compute, cublasGemmAlgo_t algo) {
  (void)algo;
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!gemm_args_ok(ta, tb, m, n, k, lda, ldb, ldc) || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
  for (cudaDataType t : {At, Bt, Ct})
    if (t != CUDA_R_32F && t != CUDA_R_16BF) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_PEDANTIC) return CUBLAS_STATUS_NOT_SUPPORTED;
  float al = *(const float *)alpha, be = *(const float *)beta;
  long ra = ta == CUBLAS_OP_N ? m : k, ca = ta == CUBLAS_OP_N ? k : m;
  long rb = tb == CUBLAS_OP_N ? k : n, cb = tb == CUBLAS_OP_N ? n : k;
  size_t ea = At == CUDA_R_32F ? 4 : 2, eb = Bt == CUDA_R_32F ? 4 : 2, ec = Ct == CUDA_R_32F ? 4 : 2;
  for (int b = 0; b < batch; b++) {
    const char *pa = (const char *)A + (size_t)b * sA * ea, *pb = (const char *)B + (size_t)b * sB * eb;
    char *pc = (char *)C + (size_t)b * sC * ec;
    std::vector<float> a = dense(pa, At, ra, ca, lda), bm = dense(pb, Bt, rb, cb, ldb);
    std::vector<float> c = be == 0.0f ? std::vector<float>((size_t)m * n, 0.0f) : dense(pc, Ct, m, n, ldc);
    sgemm(ta, tb, m, n, k, al, a.data(), ra > 1 ? (int)ra : 1, bm.data(), rb > 1 ? (int)rb : 1, be, c.data(),
          m > 1 ? m : 1);
    for (long j = 0; j < n; j++)
      for (long i = 0; i < m; i++) store(pc, Ct, (size_t)j * ldc + i, c[(size_t)j * m + i]);
  }
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemv(cublasHandle_t h, cublasOperation_t trans, int m, int n, const float *alpha,
                           const float *A, int lda, const float *x, int incx, const float *beta, float *y, int incy) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(trans) || m < 0 || n < 0 || lda < (m > 1 ? m : 1) || incx == 0 || incy == 0)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  int leny = trans == CUBLAS_OP_N ? m : n;
  if (*beta == 0.0f)
    for (int i = 0; i < leny; i++) y[(long)i * (incy > 0 ? incy : -incy)] = 0.0f;
  cblas_sgemv(CblasColMajor, cblas_op(trans), m, n, *alpha, A, lda, x, incx, *beta, y, incy);
  return CUBLAS_STATUS_SUCCESS;
}

} // extern "C"
