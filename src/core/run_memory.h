// Memory for task-run handles: carved from slabs by a bump pointer, instead of one malloc each.
//
// A map of 100,000 runs keeps 100,000 handles alive until its futures go away. From malloc, each
// is fresh heap the kernel must fault in page by page (about a third of the submitting thread's
// time in W2, docs/sdk.md). Here each thread carves the blocks it allocates from a slab of its
// own: the first slabs of a thread are small (a thread that submits a few runs holds little),
// later ones are 2 MiB and asked for as a transparent huge page, so the kernel faults in 2 MiB at
// a time. A slab is released once every block carved from it is freed and its thread has moved
// on to another slab (or exited); blocks are never reused one by one, so a slab stays while any of
// its blocks lives. A released huge slab is kept for reuse (up to 64 MiB of them, given MADV_FREE
// so that the kernel may reclaim them under pressure): the next map's handles then land in memory
// already backed instead of fresh huge pages, which cost about 1 µs per handle to fault in on the
// development VM (docs/sdk.md). Other released slabs go back to the system.
//
// Thread-safety: allocate() from any thread (each carves its own slab); deallocate() from any
// thread. Errors: allocate() throws std::bad_alloc when the system has no memory.
#pragma once

#include <cstddef>
#include <new>

namespace baton::core::run_memory {

// Blocks larger than this come from operator new (allocate_sized decides by size).
inline constexpr std::size_t kMaxBlock = 4096;
// Released huge slabs (2 MiB each) kept for reuse, at most.
inline constexpr std::size_t kRetainedSlabs = 32;

void* allocate(std::size_t size);
void deallocate(void* block) noexcept;

// A block of any size: carved up to kMaxBlock, from operator new above it. deallocate_sized must
// get the size allocate_sized got.
inline void* allocate_sized(std::size_t size) {
  return size > kMaxBlock ? ::operator new(size) : allocate(size);
}
inline void deallocate_sized(void* block, std::size_t size) noexcept {
  if (size > kMaxBlock)
    ::operator delete(block);
  else
    deallocate(block);
}

// Statistics for tests: slabs holding live blocks or carved from by a thread, and released huge
// slabs kept for reuse.
std::size_t mapped_slabs() noexcept;
std::size_t retained_slabs() noexcept;

// A std allocator over allocate()/deallocate(), for std::allocate_shared.
template <class T>
struct RunAllocator {
  using value_type = T;
  RunAllocator() = default;
  template <class U>
  RunAllocator(const RunAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit by design

  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= alignof(std::max_align_t), "over-aligned types are not carved");
    return static_cast<T*>(allocate_sized(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { deallocate_sized(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const RunAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace baton::core::run_memory
