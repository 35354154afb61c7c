/* The CUDA emulator's cuFFT (emu/cuda_emu.h): the 1-D batched real transforms seqmix plans with
 * cufftMakePlanMany64, executed by FFTW. As in cuFFT, a NULL inembed/onembed means the basic layout
 * (istride, idist, ostride and odist are ignored): real rows of n, complex rows of n / 2 + 1;
 * transforms are unnormalized and C2R may overwrite its input. */
#include <cufft.h>
#include <fftw3.h>
#include <stdlib.h>

#include <mutex>
#include <vector>

#include "emu/cuda_emu.h"

namespace {

struct plan {
  bool used = false, made = false;
  cufftType type = CUFFT_R2C;
  long long n = 0, batch = 0, istride = 1, idist = 0, ostride = 1, odist = 0;
};

std::mutex plans_lock; /* FFTW's planner is not thread-safe either */
std::vector<plan> plans;

plan *find(cufftHandle h) {
  if (h < 0 || (size_t)h >= plans.size() || !plans[(size_t)h].used) return nullptr;
  return &plans[(size_t)h];
}

} // namespace

extern "C" {

cufftResult cufftCreate(cufftHandle *h) {
  std::lock_guard<std::mutex> g(plans_lock);
  for (size_t i = 0; i < plans.size(); i++)
    if (!plans[i].used) {
      plans[i] = plan{};
      plans[i].used = true;
      *h = (cufftHandle)i;
      return CUFFT_SUCCESS;
    }
  plans.push_back(plan{});
  plans.back().used = true;
  *h = (cufftHandle)(plans.size() - 1);
  return CUFFT_SUCCESS;
}

cufftResult cufftDestroy(cufftHandle h) {
  std::lock_guard<std::mutex> g(plans_lock);
  plan *p = find(h);
  if (!p) return CUFFT_INVALID_PLAN;
  p->used = false;
  return CUFFT_SUCCESS;
}

cufftResult cufftSetAutoAllocation(cufftHandle h, int a) {
  (void)a;
  std::lock_guard<std::mutex> g(plans_lock);
  return find(h) ? CUFFT_SUCCESS : CUFFT_INVALID_PLAN;
}
cufftResult cufftSetWorkArea(cufftHandle h, void *w) {
  (void)w;
  std::lock_guard<std::mutex> g(plans_lock);
  return find(h) ? CUFFT_SUCCESS : CUFFT_INVALID_PLAN;
}
cufftResult cufftGetVersion(int *v) {
  *v = CUFFT_VERSION;
  return CUFFT_SUCCESS;
}

cufftResult cufftMakePlanMany64(cufftHandle h, int rank, long long *n, long long *inembed, long long istride,
                                long long idist, long long *onembed, long long ostride, long long odist, cufftType type,
                                long long batch, size_t *work) {
  std::lock_guard<std::mutex> g(plans_lock);
  plan *p = find(h);
  if (!p) return CUFFT_INVALID_PLAN;
  if (rank != 1) return CUFFT_NOT_SUPPORTED;
  if (type != CUFFT_R2C && type != CUFFT_C2R) return CUFFT_NOT_SUPPORTED;
  if (n[0] < 1 || batch < 1) return CUFFT_INVALID_SIZE;
  p->type = type;
  p->n = n[0];
  p->batch = batch;
  long long nr = n[0], nc = n[0] / 2 + 1;
  if (inembed && onembed) {
    p->istride = istride, p->idist = idist, p->ostride = ostride, p->odist = odist;
  } else { /* cuFFT: the advanced layout parameters are ignored */
    p->istride = p->ostride = 1;
    p->idist = type == CUFFT_R2C ? nr : nc;
    p->odist = type == CUFFT_R2C ? nc : nr;
  }
  p->made = true;
  if (work) *work = 0;
  return CUFFT_SUCCESS;
}

cufftResult cufftExecR2C(cufftHandle h, cufftReal *in, cufftComplex *out) {
  std::lock_guard<std::mutex> g(plans_lock);
  plan *p = find(h);
  if (!p || !p->made) return CUFFT_INVALID_PLAN;
  if (p->type != CUFFT_R2C) return CUFFT_INVALID_TYPE;
  int n = (int)p->n;
  fftwf_plan f = fftwf_plan_many_dft_r2c(1, &n, (int)p->batch, in, nullptr, (int)p->istride, (int)p->idist,
                                         (fftwf_complex *)out, nullptr, (int)p->ostride, (int)p->odist,
                                         FFTW_ESTIMATE | FFTW_UNALIGNED);
  if (!f) return CUFFT_EXEC_FAILED;
  fftwf_execute(f);
  fftwf_destroy_plan(f);
  return CUFFT_SUCCESS;
}

cufftResult cufftExecC2R(cufftHandle h, cufftComplex *in, cufftReal *out) {
  std::lock_guard<std::mutex> g(plans_lock);
  plan *p = find(h);
  if (!p || !p->made) return CUFFT_INVALID_PLAN;
  if (p->type != CUFFT_C2R) return CUFFT_INVALID_TYPE;
  int n = (int)p->n;
  fftwf_plan f = fftwf_plan_many_dft_c2r(1, &n, (int)p->batch, (fftwf_complex *)in, nullptr, (int)p->istride,
                                         (int)p->idist, out, nullptr, (int)p->ostride, (int)p->odist,
                                         FFTW_ESTIMATE | FFTW_UNALIGNED | FFTW_DESTROY_INPUT);
  if (!f) return CUFFT_EXEC_FAILED;
  fftwf_execute(f);
  fftwf_destroy_plan(f);
  return CUFFT_SUCCESS;
}

} // extern "C"
