// The engine's own machinery, below the SDK: the thread pool's group hand-over and the memory
// task-run handles are carved from (core/run_memory.h).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <latch>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "core/run_memory.h"
#include "core/thread_pool.h"

namespace baton::core {
namespace {

class Count final : public Runnable {
 public:
  Count(std::atomic<int>& n, std::latch& done) : n_(n), done_(done) {}
  void execute() override {
    n_.fetch_add(1);
    done_.count_down();
  }

 private:
  std::atomic<int>& n_;
  std::latch& done_;
};

TEST(ThreadPool, PostingAGroupRunsEveryJobAndEmptiesTheGroup) {
  for (std::size_t group : {1u, 2u, 3u, 64u}) {
    ThreadPool pool(3);
    std::atomic<int> n{0};
    std::latch done(static_cast<std::ptrdiff_t>(group * 5));
    for (int round = 0; round < 5; ++round) {
      std::vector<std::shared_ptr<Runnable>> jobs;
      for (std::size_t i = 0; i < group; ++i) jobs.push_back(std::make_shared<Count>(n, done));
      pool.post(jobs);
      EXPECT_TRUE(jobs.empty());
    }
    done.wait();
    EXPECT_EQ(n.load(), static_cast<int>(group * 5)) << "group of " << group;
  }
}

class Block final : public Runnable {
 public:
  explicit Block(std::latch& open) : open_(open) {}
  void execute() override { open_.wait(); }

 private:
  std::latch& open_;
};

TEST(ThreadPool, ABackloggedWaitReturnsOnceTheThreadsCatchUp) {
  ThreadPool pool(2);
  std::atomic<int> n{0};
  std::latch open(1), done(600);
  std::vector<std::shared_ptr<Runnable>> jobs;
  jobs.push_back(std::make_shared<Block>(open));
  for (int i = 0; i < 600; ++i) jobs.push_back(std::make_shared<Count>(n, done));
  pool.post(jobs);
  std::thread opener([&] { open.count_down(); });
  // Generous patience: the threads are taking jobs all along.
  EXPECT_TRUE(pool.wait_while_backlogged(100, 50, std::chrono::seconds(30)));
  opener.join();
  done.wait();
  EXPECT_EQ(n.load(), 600);
}

TEST(ThreadPool, ABackloggedWaitGivesUpWhenNoJobIsTaken) {
  ThreadPool pool(1);
  std::latch open(1);
  std::vector<std::shared_ptr<Runnable>> jobs;
  for (int i = 0; i < 20; ++i) jobs.push_back(std::make_shared<Block>(open));
  pool.post(jobs);
  // The only thread waits for `open`, which only this thread opens: the wait must give up.
  EXPECT_FALSE(pool.wait_while_backlogged(10, 5, std::chrono::milliseconds(20)));
  EXPECT_TRUE(pool.wait_while_backlogged(50, 5, std::chrono::milliseconds(20)));  // not backlogged
  open.count_down();
}

TEST(RunMemory, BlocksAreDistinctAlignedAndWritable) {
  std::vector<void*> blocks;
  std::set<std::uintptr_t> seen;
  for (std::size_t size : {1u, 16u, 100u, 840u, 4096u}) {
    for (int i = 0; i < 200; ++i) {
      void* p = run_memory::allocate(size);
      auto at = reinterpret_cast<std::uintptr_t>(p);
      EXPECT_EQ(at % alignof(std::max_align_t), 0u);
      EXPECT_TRUE(seen.insert(at).second);
      std::memset(p, 0xab, size);
      blocks.push_back(p);
    }
  }
  for (void* p : blocks) run_memory::deallocate(p);
}

// A thread's slabs are released (kept for reuse or unmapped) once it has exited (it no longer
// carves from them) and every block carved from them is freed, whichever thread frees them.
TEST(RunMemory, SlabsAreReleasedOnceTheirThreadLeftAndEveryBlockIsFreed) {
  const std::size_t before = run_memory::mapped_slabs();
  std::vector<void*> blocks;
  // Enough for the small slabs and several 2 MiB ones.
  std::thread carver([&] {
    for (int i = 0; i < 10'000; ++i) blocks.push_back(run_memory::allocate(840));
  });
  carver.join();
  EXPECT_GT(run_memory::mapped_slabs(), before + 2);
  // Freed from two threads at once, as futures are dropped wherever their holders are.
  std::thread half([&] {
    for (std::size_t i = 0; i < blocks.size(); i += 2) run_memory::deallocate(blocks[i]);
  });
  for (std::size_t i = 1; i < blocks.size(); i += 2) run_memory::deallocate(blocks[i]);
  half.join();
  EXPECT_EQ(run_memory::mapped_slabs(), before);
}

TEST(RunMemory, ASlabStaysWhileOneOfItsBlocksLives) {
  const std::size_t before = run_memory::mapped_slabs();
  void* survivor = nullptr;
  std::thread carver([&] {
    survivor = run_memory::allocate(64);
    run_memory::deallocate(run_memory::allocate(64));
  });
  carver.join();
  EXPECT_EQ(run_memory::mapped_slabs(), before + 1);
  std::memset(survivor, 1, 64);  // still mapped: no fault under ASan or otherwise
  run_memory::deallocate(survivor);
  EXPECT_EQ(run_memory::mapped_slabs(), before);
}

// A released huge slab is kept (up to kRetainedSlabs) and handed to the next thread that needs a
// huge slab, instead of being unmapped and faulted in afresh.
TEST(RunMemory, ReleasedHugeSlabsAreKeptForReuseUpToTheBound) {
  // More huge slabs than the bound: blocks of 4000 bytes, about 520 to a 2 MiB slab.
  constexpr int kBlocks = 600 * (static_cast<int>(run_memory::kRetainedSlabs) + 8);
  std::vector<void*> blocks;
  std::thread carver([&] {
    for (int i = 0; i < kBlocks; ++i) blocks.push_back(run_memory::allocate(4000));
  });
  carver.join();
  const std::size_t mapped = run_memory::mapped_slabs();
  for (void* p : blocks) run_memory::deallocate(p);
  EXPECT_GT(mapped - run_memory::mapped_slabs(), run_memory::kRetainedSlabs);
  EXPECT_EQ(run_memory::retained_slabs(), run_memory::kRetainedSlabs);  // the rest were unmapped

  // A new thread's first two slabs are small; its third is a retained one, and it is writable.
  std::thread reuser([&] {
    std::vector<void*> mine;
    while (run_memory::retained_slabs() == run_memory::kRetainedSlabs && mine.size() < 2000) {
      mine.push_back(run_memory::allocate(4000));
      std::memset(mine.back(), 0xcd, 4000);
    }
    EXPECT_EQ(run_memory::retained_slabs(), run_memory::kRetainedSlabs - 1);
    for (void* p : mine) run_memory::deallocate(p);
  });
  reuser.join();
  EXPECT_EQ(run_memory::retained_slabs(), run_memory::kRetainedSlabs);  // given back on exit
}

TEST(RunMemory, AllocatorServesSharedPointersOfAnySize) {
  struct Big {
    char bytes[run_memory::kMaxBlock + 1];
  };
  auto small = std::allocate_shared<int>(run_memory::RunAllocator<int>{}, 7);
  auto big = std::allocate_shared<Big>(run_memory::RunAllocator<Big>{});  // from operator new
  EXPECT_EQ(*small, 7);
  big->bytes[run_memory::kMaxBlock] = 'x';
  EXPECT_EQ(big->bytes[run_memory::kMaxBlock], 'x');
}

}  // namespace
}  // namespace baton::core
