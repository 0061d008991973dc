// One fuzz input through the schedule parsers and iterators, shared by the libFuzzer target
// (schedule_fuzzer.cpp, built with clang) and the replay test that runs every seed and every
// kept crash under GoogleTest (fuzz_replay_test.cpp).
//
// Input: byte 0 picks the entry point (cron, cron with day_or=false, RRULE, JSON, Schedule::parse),
// byte 1 picks a time zone from a fixed list, the rest is the text. A parse may fail only with
// baton::Error; a schedule that parses must return times that are ascending, unique and within the
// window. Anything else aborts, which libFuzzer reports as a crash.
#pragma once

#include <cstddef>
#include <cstdint>

namespace baton::testing {

void run_schedule_fuzz_input(const std::uint8_t* data, std::size_t size);

}  // namespace baton::testing
