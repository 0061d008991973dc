#include "model/ids.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>

namespace baton {

namespace {
// 48-bit unix milliseconds, then a 74-bit monotonic sequence seeded randomly each millisecond,
// so ids from one process sort in creation order even within a millisecond.
struct Generator {
  std::mutex mutex;
  std::mt19937_64 rng{std::random_device{}()};
  uint64_t last_ms = 0;
  uint64_t seq_hi = 0;  // 12 bits (rand_a)
  uint64_t seq_lo = 0;  // 62 bits (rand_b)

  void next(uint64_t& ms, uint64_t& a, uint64_t& b) {
    std::lock_guard lock(mutex);
    ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
    if (ms > last_ms) {
      last_ms = ms;
      seq_hi = rng() & 0x7ff;  // leave headroom in the top bit for increments
      seq_lo = rng() & 0x3fffffffffffffffULL;
    } else {
      ms = last_ms;  // clock went back or same millisecond: keep ordering
      if (++seq_lo > 0x3fffffffffffffffULL) {
        seq_lo = 0;
        if (++seq_hi > 0xfff) {  // exhausted: borrow the next millisecond
          ++last_ms;
          ms = last_ms;
          seq_hi = 0;
        }
      }
    }
    a = seq_hi;
    b = seq_lo;
  }
};
Generator& generator() {
  static Generator g;
  return g;
}
}  // namespace

std::string new_id() {
  std::string out(36, '-');
  new_id_into(out.data());
  return out;
}

void new_id_into(char* out) {
  uint64_t ms, a, b;
  generator().next(ms, a, b);
  uint8_t bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  bytes[6] = static_cast<uint8_t>(0x70 | ((a >> 8) & 0x0f));
  bytes[7] = static_cast<uint8_t>(a & 0xff);
  bytes[8] = static_cast<uint8_t>(0x80 | ((b >> 56) & 0x3f));
  for (int i = 9; i < 16; ++i) bytes[i] = static_cast<uint8_t>(b >> (8 * (15 - i)));
  // Every task state takes a fresh id on the SDK hot path, so the text is written in place,
  // two hex digits per table lookup.
  static constexpr auto kHexPairs = [] {
    constexpr char kHex[] = "0123456789abcdef";
    std::array<char, 512> pairs{};
    for (int i = 0; i < 256; ++i) {
      pairs[2 * i] = kHex[i >> 4];
      pairs[2 * i + 1] = kHex[i & 0x0f];
    }
    return pairs;
  }();
  char* p = out;
  auto put = [&p](const uint8_t* from, int count, bool dash) {
    for (int i = 0; i < count; ++i, p += 2) std::memcpy(p, &kHexPairs[2 * from[i]], 2);
    if (dash) *p++ = '-';  // the dash after the group
  };
  put(bytes, 4, true);
  put(bytes + 4, 2, true);
  put(bytes + 6, 2, true);
  put(bytes + 8, 2, true);
  put(bytes + 10, 6, false);
}

bool is_uuid(const std::string& text) noexcept {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace baton
