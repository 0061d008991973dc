// Waiting in tests for something another thread or process brings about, bounded.
//
//   EXPECT_TRUE(eventually([&] { return stored() == 3; }));
//
// Polls `done` every `poll` until it holds, for at most `bound`; then checks it once more, so a
// condition that came true just at the deadline counts. The bound makes a test that would
// otherwise hang fail instead; it is not a speed assertion.
#pragma once

#include <chrono>
#include <thread>

namespace baton::testing {

template <class F>
bool eventually(F done, std::chrono::milliseconds bound = std::chrono::seconds(30),
                std::chrono::milliseconds poll = std::chrono::milliseconds(2)) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(poll);
  }
  return done();
}

}  // namespace baton::testing
