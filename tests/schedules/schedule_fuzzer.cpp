// libFuzzer entry point for the schedule parsers; see fuzz_harness.h. Built by
// tests/schedules/CMakeLists.txt with clang++ -fsanitize=fuzzer,address,undefined.
#include <cstddef>
#include <cstdint>

#include "fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  baton::testing::run_schedule_fuzz_input(data, size);
  return 0;
}
