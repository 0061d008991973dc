#include "core/run_memory.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace baton::core::run_memory {

namespace {

// A thread's first slabs are small; from the third on they are one huge page each.
constexpr std::size_t kSmallSlab = 64 * 1024;
constexpr std::size_t kHugeSlab = 2 * 1024 * 1024;
constexpr int kSmallSlabsPerThread = 2;
constexpr std::size_t kAlign = alignof(std::max_align_t);

// `live` starts at kOwnerBias while a thread carves from the slab, so that frees never bring it
// to zero before the thread moves on; then the thread gives back the bias less what it carved,
// and whoever brings it to zero (that thread or the last free) unmaps the slab. Carving itself
// needs no atomic operation.
constexpr int64_t kOwnerBias = int64_t{1} << 40;

struct SlabHeader {
  std::atomic<int64_t> live{kOwnerBias};
  std::size_t size = 0;
};

// Every block starts with the slab it was carved from.
struct alignas(kAlign) BlockPrefix {
  SlabHeader* slab;
};

constexpr std::size_t round_up(std::size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }
constexpr std::size_t kFirstBlock = round_up(sizeof(SlabHeader));

std::atomic<std::size_t> g_mapped{0};

// Huge slabs whose every block was freed wait here for the next slab a thread needs, up to
// kRetainedSlabs of them: reusing one costs nothing, where a fresh huge page costs about as much
// as the rest of the submitting thread's work per run on the development VM (docs/sdk.md). A
// retained slab is given MADV_FREE, so the kernel may still take its memory back under pressure
// (its next user then faults it in afresh, as a fresh slab). Small slabs are not retained.
class RetainedSlabs {
 public:
  RetainedSlabs() { slabs_.reserve(kRetainedSlabs); }  // keep() never allocates

  // A retained slab, or nullptr when there is none.
  void* take() noexcept {
    std::lock_guard lock(mutex_);
    if (slabs_.empty()) return nullptr;
    void* slab = slabs_.back();  // the most recently freed: the likeliest to be in the cache
    slabs_.pop_back();
    return slab;
  }
  // Keeps `slab` (kHugeSlab bytes) for reuse; false when full (the caller unmaps it).
  bool keep(void* slab) noexcept {
    {
      std::lock_guard lock(mutex_);
      if (slabs_.size() >= kRetainedSlabs) return false;
    }
    madvise(slab, kHugeSlab, MADV_FREE);
    std::lock_guard lock(mutex_);
    if (slabs_.size() >= kRetainedSlabs) return false;
    slabs_.push_back(slab);
    return true;
  }
  std::size_t size() noexcept {
    std::lock_guard lock(mutex_);
    return slabs_.size();
  }

 private:
  std::mutex mutex_;
  std::vector<void*> slabs_;
};

// Never destroyed: blocks may be freed by other static objects' destructors at exit.
RetainedSlabs& retained() {
  static auto* slabs = new RetainedSlabs;
  return *slabs;
}

// `size` bytes freshly mapped; a huge slab aligned to its size and advised as a huge page.
void* map_fresh(std::size_t size) {
  constexpr int kProt = PROT_READ | PROT_WRITE;
  constexpr int kFlags = MAP_PRIVATE | MAP_ANONYMOUS;
  void* at = nullptr;
  if (size < kHugeSlab) {
    at = mmap(nullptr, size, kProt, kFlags, -1, 0);
    if (at == MAP_FAILED) throw std::bad_alloc();
  } else {
    // A huge page must be aligned to its size: map twice as much and trim both ends.
    void* raw = mmap(nullptr, 2 * size, kProt, kFlags, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    auto begin = reinterpret_cast<std::uintptr_t>(raw);
    auto aligned = (begin + size - 1) & ~(size - 1);
    if (aligned > begin) munmap(raw, aligned - begin);
    auto tail = begin + 2 * size - (aligned + size);
    if (tail > 0) munmap(reinterpret_cast<void*>(aligned + size), tail);
    at = reinterpret_cast<void*>(aligned);
    // Advice only: without huge pages the slab is faulted in 4 KiB at a time, as malloc's heap.
    madvise(at, size, MADV_HUGEPAGE);
  }
  return at;
}

SlabHeader* map_slab(std::size_t size) {
  void* at = size == kHugeSlab ? retained().take() : nullptr;  // aligned and advised already
  if (!at) at = map_fresh(size);
  auto* slab = new (at) SlabHeader;
  slab->size = size;
  g_mapped.fetch_add(1, std::memory_order_relaxed);
  return slab;
}

void release(SlabHeader* slab, int64_t count) noexcept {
  if (slab->live.fetch_sub(count, std::memory_order_acq_rel) != count) return;
  std::size_t size = slab->size;
  slab->~SlabHeader();
  g_mapped.fetch_sub(1, std::memory_order_relaxed);
  if (size != kHugeSlab || !retained().keep(slab)) munmap(slab, size);
}

class Carver {
 public:
  Carver() = default;
  Carver(const Carver&) = delete;
  Carver& operator=(const Carver&) = delete;
  ~Carver() { retire(); }

  void* allocate(std::size_t size) {
    std::size_t need = sizeof(BlockPrefix) + round_up(size);
    if (!slab_ || static_cast<std::size_t>(end_ - next_) < need) {
      std::size_t slab_size = slabs_ < kSmallSlabsPerThread ? kSmallSlab : kHugeSlab;
      SlabHeader* fresh = map_slab(slab_size);  // may throw: keep the current slab until then
      retire();
      slab_ = fresh;
      ++slabs_;
      next_ = reinterpret_cast<char*>(fresh) + kFirstBlock;
      end_ = reinterpret_cast<char*>(fresh) + slab_size;
      carved_ = 0;
    }
    auto* prefix = new (next_) BlockPrefix{slab_};
    next_ += need;
    ++carved_;
    return prefix + 1;
  }

 private:
  void retire() noexcept {
    if (!slab_) return;
    release(slab_, kOwnerBias - carved_);
    slab_ = nullptr;
    next_ = end_ = nullptr;
  }

  SlabHeader* slab_ = nullptr;
  char* next_ = nullptr;
  char* end_ = nullptr;
  int64_t carved_ = 0;
  int slabs_ = 0;
};

thread_local Carver tl_carver;

}  // namespace

void* allocate(std::size_t size) { return tl_carver.allocate(size); }

void deallocate(void* block) noexcept {
  auto* prefix = static_cast<BlockPrefix*>(block) - 1;
  release(prefix->slab, 1);
}

std::size_t mapped_slabs() noexcept { return g_mapped.load(std::memory_order_relaxed); }

std::size_t retained_slabs() noexcept { return retained().size(); }

}  // namespace baton::core::run_memory
