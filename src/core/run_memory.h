// Memory for task-run handles: carved from slabs by a bump pointer, instead of one malloc each.
//
// A map of 100,000 runs keeps 100,000 handles alive until its futures go away. From malloc, each
// is fresh heap the kernel must fault in page by page (about a third of the submitting thread's
// time in W2, docs/sdk.md). Here each thread carves the blocks it allocates from a slab of its
// own: the first slabs of a thread are small (a thread that submits a few runs holds little),
// later ones are 2 MiB and asked for as a transparent huge page, so the kernel faults in 2 MiB at
// a time. A slab is returned to the system once every block carved from it is freed and its
// thread has moved on to another slab (or exited); blocks are never reused one by one, so a slab
// stays while any of its blocks lives.
//
// Thread-safety: allocate() from any thread (each carves its own slab); deallocate() from any
// thread. Errors: allocate() throws std::bad_alloc when the system has no memory.
#pragma once

#include <cstddef>
#include <new>

namespace baton::core::run_memory {

// Blocks larger than this come from operator new (RunAllocator decides by size).
inline constexpr std::size_t kMaxBlock = 4096;

void* allocate(std::size_t size);
void deallocate(void* block) noexcept;

// Statistics for tests: slabs currently mapped by this process.
std::size_t mapped_slabs() noexcept;

// A std allocator over allocate()/deallocate(), for std::allocate_shared.
template <class T>
struct RunAllocator {
  using value_type = T;
  RunAllocator() = default;
  template <class U>
  RunAllocator(const RunAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit by design

  T* allocate(std::size_t n) {
    std::size_t size = n * sizeof(T);
    static_assert(alignof(T) <= alignof(std::max_align_t), "over-aligned types are not carved");
    if (size > kMaxBlock) return static_cast<T*>(::operator new(size));
    return static_cast<T*>(run_memory::allocate(size));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n * sizeof(T) > kMaxBlock) {
      ::operator delete(p);
    } else {
      run_memory::deallocate(p);
    }
  }
  template <class U>
  bool operator==(const RunAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace baton::core::run_memory
