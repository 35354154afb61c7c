/* The CUDA emulator's scheduler (emu/cuda_emu.h): a grid's blocks run one after another on the
 * calling host thread; each thread of a block is a fiber with its own stack (context switch: a few
 * instructions of x86-64 assembly below, ucontext elsewhere, whose signal-mask system calls cost
 * about a microsecond per switch), switched
 * only at barriers. A fiber that reaches __syncthreads waits until every thread of the block that
 * has not returned is there; a warp collective waits for the lanes of its mask, and the last lane
 * to arrive computes every lane's result before any of them runs on (so a lane can never read a
 * value another lane has already replaced). Misuse that a GPU would hang on or answer undefined —
 * a collective naming a lane that has returned, mismatched barriers, a deadlock — stops the
 * process with one line naming the kernel's block and thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>

/* ---- context switch ------------------------------------------------------------------------------
 * smx_emu_switch(&save, load): pushes the callee-saved registers, the SSE control/status word and
 * the x87 control word, stores the stack pointer in *save, loads `load` and pops the same from it.
 * A new fiber's stack is laid out as if it had been switched away from just before entering
 * fiber_entry. */
#if defined(__x86_64__) && !defined(SMX_EMU_UCONTEXT)
#define SMX_EMU_FAST_SWITCH 1
extern "C" void smx_emu_switch(void **save_sp, void *load_sp);
asm(R"(
  .text
  .globl smx_emu_switch
  .type smx_emu_switch, @function
smx_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size smx_emu_switch, .-smx_emu_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");
#endif

#include <deque>
#include <vector>

#include "emu/cuda_emu.h"

/* Under AddressSanitizer (meson -Db_sanitize=address) every switch is announced, so ASan knows
 * which stack is live; with exact-size device allocations and dynamic shared memory, it then
 * reports a kernel's out-of-bounds access the way compute-sanitizer's memcheck would. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define SMX_EMU_ASAN 1
#endif

namespace smx_emu {


namespace {

enum fiber_state { RUNNABLE, WAIT_BLOCK, WAIT_WARP, DONE };

struct async_copy {
  void *dst;
  const void *src; /* nullptr: zero-fill */
};

const size_t STACK_BYTES = 256 * 1024;
const size_t GUARD_BYTES = 4096;

struct fiber {
#ifdef SMX_EMU_FAST_SWITCH
  void *sp = nullptr;
#else
  ucontext_t ctx;
#endif
  char *mapping = nullptr; /* guard page + stack */
  fiber_state state = DONE;
  uint3 idx;
  unsigned lane = 0, warp = 0;
  /* warp collective */
  warp_combine_fn combine = nullptr;
  unsigned mask = 0;
  lane_slot *slot = nullptr;
  /* block barrier */
  int bar_op = 0, bar_pred = 0, bar_out = 0;
  void *asan_fake_stack = nullptr;
  /* cp.async: copies not yet committed, and committed groups oldest first */
  std::vector<async_copy> open_copies;
  std::deque<std::vector<async_copy>> groups;
};

struct block_run {
  std::vector<fiber> fibers;
#ifdef SMX_EMU_FAST_SWITCH
  void *sched_sp = nullptr;
#else
  ucontext_t sched;
#endif
  fiber *current = nullptr;
  void *asan_fake_stack = nullptr;           /* the scheduler's, while a fiber runs */
  const void *sched_bottom = nullptr;        /* the scheduler's stack, as ASan reports it */
  size_t sched_size = 0;
  unsigned n = 0, n_done = 0, n_wait_block = 0;
  void (*body)(void *) = nullptr;
  void *ctx = nullptr;
  unsigned char *smem = nullptr;
  size_t smem_bytes = 0;
};

thread_local block_run *run = nullptr;

void fiber_entry() {
  block_run *r = run;
#ifdef SMX_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &r->sched_bottom, &r->sched_size);
#endif
  r->body(r->ctx);
  fiber *f = r->current;
  f->state = DONE;
  r->n_done++;
#ifdef SMX_EMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, r->sched_bottom, r->sched_size); /* nullptr: this stack is done */
#endif
#ifdef SMX_EMU_FAST_SWITCH
  void *dead;
  smx_emu_switch(&dead, r->sched_sp); /* never resumed */
  __builtin_unreachable();
#endif
  /* ucontext: returning resumes r->sched (uc_link) */
}

void yield_to_scheduler() {
  block_run *r = run;
  fiber *f = r->current;
#ifdef SMX_EMU_ASAN
  __sanitizer_start_switch_fiber(&f->asan_fake_stack, r->sched_bottom, r->sched_size);
#endif
#ifdef SMX_EMU_FAST_SWITCH
  smx_emu_switch(&f->sp, r->sched_sp);
#else
  swapcontext(&f->ctx, &r->sched);
#endif
#ifdef SMX_EMU_ASAN
  __sanitizer_finish_switch_fiber(f->asan_fake_stack, &r->sched_bottom, &r->sched_size);
#endif
}

void switch_to(block_run *r, fiber *f) {
#ifdef SMX_EMU_ASAN
  __sanitizer_start_switch_fiber(&r->asan_fake_stack, f->mapping + GUARD_BYTES, STACK_BYTES);
#endif
#ifdef SMX_EMU_FAST_SWITCH
  smx_emu_switch(&r->sched_sp, f->sp);
#else
  swapcontext(&r->sched, &f->ctx);
#endif
#ifdef SMX_EMU_ASAN
  __sanitizer_finish_switch_fiber(r->asan_fake_stack, nullptr, nullptr);
#endif
}

/* A fresh fiber: its first switch lands in fiber_entry with an ABI-aligned stack. */
void prepare(block_run *r, fiber &f) {
#ifdef SMX_EMU_ASAN
  /* a fiber that switched away for good left its frames' redzones poisoned on this stack */
  ASAN_UNPOISON_MEMORY_REGION(f.mapping + GUARD_BYTES, STACK_BYTES);
#endif
#ifdef SMX_EMU_FAST_SWITCH
  (void)r;
  uint64_t *top = (uint64_t *)(f.mapping + GUARD_BYTES + STACK_BYTES);
  /* ret pops the entry address: at its first instruction rsp % 16 == 8, as after a call */
  uint64_t *sp = top - 2;
  *sp = (uint64_t)&fiber_entry; /* never returns: it switches away for good */
  for (int i = 0; i < 6; i++) *--sp = 0; /* rbp rbx r12..r15 */
  --sp;
  uint32_t csr[2];
  asm volatile("stmxcsr %0" : "=m"(csr[0]));
  asm volatile("fnstcw %0" : "=m"(csr[1]));
  memcpy(sp, csr, 8);
  f.sp = sp;
#else
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = f.mapping + GUARD_BYTES;
  f.ctx.uc_stack.ss_size = STACK_BYTES;
  f.ctx.uc_link = &r->sched;
  makecontext(&f.ctx, fiber_entry, 0);
#endif
}

void release_block() {
  block_run *r = run;
  int op = -1, acc_or = 0, acc_and = 1, count = 0;
  for (fiber &f : r->fibers) {
    if (f.state != WAIT_BLOCK) continue;
    if (op < 0) op = f.bar_op;
    else if (op != f.bar_op)
      fail("threads of one block wait at different kinds of __syncthreads (%d and %d)", op, f.bar_op);
    acc_or |= f.bar_pred != 0;
    acc_and &= f.bar_pred != 0;
    count += f.bar_pred != 0;
  }
  int out = op == 1 ? acc_or : op == 2 ? acc_and : op == 3 ? count : 0;
  for (fiber &f : r->fibers)
    if (f.state == WAIT_BLOCK) {
      f.bar_out = out;
      f.state = RUNNABLE;
    }
  r->n_wait_block = 0;
}

/* After a fiber returned: the threads still waiting at a barrier may now all be there. */
void after_exit() {
  block_run *r = run;
  if (r->n_wait_block > 0 && r->n_wait_block + r->n_done == r->n) release_block();
  /* a lane that returned while others of its warp wait in a collective naming it */
  fiber *f = r->current;
  for (unsigned l = 0; l < 32; l++) {
    unsigned i = f->warp * 32 + l;
    if (i >= r->n) break;
    fiber &o = r->fibers[i];
    if (o.state == WAIT_WARP && (o.mask >> f->lane & 1u))
      fail("thread (%u,%u,%u) returned while lane %u of its warp waits in a warp collective with mask 0x%08x "
           "that names it",
           f->idx.x, f->idx.y, f->idx.z, l, o.mask);
  }
}

void run_block(block_run *r) {
  r->n_done = 0;
  r->n_wait_block = 0;
  for (fiber &f : r->fibers) {
    f.state = RUNNABLE;
    f.open_copies.clear();
    f.groups.clear();
    prepare(r, f);
  }
  if (r->smem) memset(r->smem, 0xff, r->smem_bytes);
  while (r->n_done < r->n) {
    bool ran = false;
    for (fiber &f : r->fibers) {
      if (f.state != RUNNABLE) continue;
      r->current = &f;
      thread_idx = f.idx;
      switch_to(r, &f);
      ran = true;
      if (f.state == DONE) after_exit();
    }
    if (!ran && r->n_done < r->n) {
      r->current = nullptr; /* no thread is at fault alone */
      unsigned wb = 0, ww = 0;
      const fiber *first_w = nullptr;
      for (const fiber &f : r->fibers) {
        wb += f.state == WAIT_BLOCK;
        if (f.state == WAIT_WARP) {
          ww++;
          if (!first_w) first_w = &f;
        }
      }
      if (first_w)
        fail("deadlock in block (%u,%u,%u): %u threads at __syncthreads, %u in warp collectives (first: thread "
             "(%u,%u,%u), mask 0x%08x), %u returned",
             block_idx.x, block_idx.y, block_idx.z, wb, ww, first_w->idx.x, first_w->idx.y, first_w->idx.z,
             first_w->mask, r->n_done);
      fail("deadlock in block (%u,%u,%u): %u threads at __syncthreads, %u returned", block_idx.x, block_idx.y,
           block_idx.z, wb, r->n_done);
    }
  }
  r->current = nullptr;
}

char *map_stack() {
  void *p = mmap(nullptr, GUARD_BYTES + STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) fail("cannot map a %zu-byte fiber stack", STACK_BYTES);
  mprotect(p, GUARD_BYTES, PROT_NONE); /* an overflowing fiber faults instead of writing into its neighbour */
  return (char *)p;
}

thread_local std::vector<char *> stack_pool;

} // namespace

void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "cuda emulator: ");
  vfprintf(stderr, fmt, ap);
  if (run && run->current)
    fprintf(stderr, " [block (%u,%u,%u), thread (%u,%u,%u)]", block_idx.x, block_idx.y, block_idx.z,
            run->current->idx.x, run->current->idx.y, run->current->idx.z);
  else if (run)
    fprintf(stderr, " [block (%u,%u,%u)]", block_idx.x, block_idx.y, block_idx.z);
  fprintf(stderr, "\n");
  va_end(ap);
  fflush(stderr);
  abort();
}

unsigned lane_id() {
  if (!run || !run->current) fail("a warp operation outside a kernel");
  return run->current->lane;
}

void *dynamic_smem() {
  if (!run) fail("dynamic shared memory outside a kernel");
  return run->smem;
}

int block_barrier(int op, int pred) {
  if (!run || !run->current) fail("__syncthreads outside a kernel");
  fiber *f = run->current;
  f->state = WAIT_BLOCK;
  f->bar_op = op;
  f->bar_pred = pred;
  run->n_wait_block++;
  if (run->n_wait_block + run->n_done == run->n) release_block();
  else yield_to_scheduler();
  return f->bar_out;
}

void warp_collective(unsigned mask, warp_combine_fn combine, lane_slot *mine) {
  if (!run || !run->current) fail("a warp collective outside a kernel");
  block_run *r = run;
  fiber *f = r->current;
  if (!(mask >> f->lane & 1u)) fail("lane %u calls a warp collective whose mask 0x%08x leaves it out", f->lane, mask);
  f->state = WAIT_WARP;
  f->combine = combine;
  f->mask = mask;
  f->slot = mine;
  lane_slot *slots[32] = {};
  bool ready = true;
  for (unsigned l = 0; l < 32 && ready; l++) {
    if (!(mask >> l & 1u)) continue;
    unsigned i = f->warp * 32 + l;
    if (i >= r->n) continue; /* a partial last warp: the missing lanes do not exist */
    fiber &o = r->fibers[i];
    if (o.state == DONE)
      fail("a warp collective with mask 0x%08x names lane %u, which has returned", mask, l);
    if (o.state != WAIT_WARP) {
      ready = false;
      break;
    }
    if (o.combine != combine || o.mask != mask)
      fail("lanes %u and %u of one warp are in different warp collectives (masks 0x%08x, 0x%08x)", f->lane, l, mask,
           o.mask);
    slots[l] = o.slot;
  }
  if (!ready) {
    yield_to_scheduler();
    return;
  }
  combine(slots, mask);
  for (unsigned l = 0; l < 32; l++) {
    unsigned i = f->warp * 32 + l;
    if ((mask >> l & 1u) && i < r->n) r->fibers[i].state = RUNNABLE;
  }
}

void cp_async16(void *dst, const void *src, bool valid) {
  if (!run || !run->current) fail("cp.async outside a kernel");
  if ((uintptr_t)dst % 16 || (valid && (uintptr_t)src % 16)) fail("cp.async of 16 bytes at unaligned addresses");
  run->current->open_copies.push_back(async_copy{dst, valid ? src : nullptr});
}

void cp_async_commit() {
  if (!run || !run->current) fail("cp.async.commit_group outside a kernel");
  fiber *f = run->current;
  f->groups.push_back(std::move(f->open_copies));
  f->open_copies.clear();
}

void cp_async_wait(int n) {
  if (!run || !run->current) fail("cp.async.wait_group outside a kernel");
  fiber *f = run->current;
  while (f->groups.size() > (size_t)n) {
    for (const async_copy &c : f->groups.front()) {
      if (c.src) memcpy(c.dst, c.src, 16);
      else memset(c.dst, 0, 16);
    }
    f->groups.pop_front();
  }
}

void combine_none(lane_slot *const slots[32], unsigned mask) {
  (void)slots;
  (void)mask;
}

void combine_shuffle(lane_slot *const slots[32], unsigned mask) {
  for (unsigned l = 0; l < 32; l++) {
    if (!slots[l]) continue;
    int s = slots[l]->src;
    /* reading a lane outside the mask (or past the block) is undefined on a GPU */
    if (s < 0 || s > 31 || !(mask >> s & 1u) || !slots[s])
      fail("lane %u shuffles from lane %d, which is not in the mask 0x%08x", l, s, mask);
    slots[l]->out = slots[s]->in;
  }
}

void combine_ballot(lane_slot *const slots[32], unsigned mask) {
  uint64_t bits = 0;
  for (unsigned l = 0; l < 32; l++)
    if (slots[l] && slots[l]->in) bits |= 1ull << l;
  for (unsigned l = 0; l < 32; l++)
    if (slots[l]) slots[l]->out = bits & mask;
}

int run_grid(const launch_config &cfg, void (*body)(void *), void *ctx) {
  const dim3 &g = cfg.grid, &b = cfg.block;
  unsigned long long threads = (unsigned long long)b.x * b.y * b.z;
  if (g.x == 0 || g.y == 0 || g.z == 0 || threads == 0 || threads > 1024 || b.z > 64 || g.y > 65535 || g.z > 65535) {
    note_launch_error(cudaErrorInvalidConfiguration);
    return cudaErrorInvalidConfiguration;
  }
  if (cfg.smem > launch_smem_limit()) {
    note_launch_error(cudaErrorInvalidValue);
    return cudaErrorInvalidValue;
  }
  if (run) fail("a kernel launched from inside a kernel (dynamic parallelism is not emulated)");
  block_run r;
  r.n = (unsigned)threads;
  r.fibers.resize(r.n);
  while (stack_pool.size() < r.n) stack_pool.push_back(map_stack());
  for (unsigned i = 0; i < r.n; i++) {
    fiber &f = r.fibers[i];
    f.mapping = stack_pool[i];
    f.idx = make_uint3(i % b.x, i / b.x % b.y, i / (b.x * b.y));
    f.lane = i % 32;
    f.warp = i / 32;
  }
  r.body = body;
  r.ctx = ctx;
  /* exactly the bytes asked for (128-byte aligned, like the start of shared memory), so an
   * AddressSanitizer build of the emulator sees a kernel reading past them */
  void *smem = nullptr;
  if (cfg.smem && posix_memalign(&smem, 128, cfg.smem) != 0) fail("cannot allocate %zu bytes of dynamic shared memory", cfg.smem);
  r.smem = (unsigned char *)smem;
  r.smem_bytes = cfg.smem;
  run = &r;
  block_dim = make_uint3(b.x, b.y, b.z);
  grid_dim = make_uint3(g.x, g.y, g.z);
  for (unsigned z = 0; z < g.z; z++)
    for (unsigned y = 0; y < g.y; y++)
      for (unsigned x = 0; x < g.x; x++) {
        block_idx = make_uint3(x, y, z);
        run_block(&r);
      }
  run = nullptr;
  free(r.smem);
  return cudaSuccess;
}

} // namespace smx_emu

long long clock64() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
