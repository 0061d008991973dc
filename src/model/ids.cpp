#include "model/ids.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>

namespace baton {

namespace {
// 48-bit unix milliseconds, then a 16-bit count of the ids this process made in that millisecond,
// then 58 random bits: ids from one process sort in creation order even within a millisecond (the
// count orders them) and never repeat (the count is unique per millisecond). Every task state
// takes an id on the SDK's hot path from several threads at once, so the shared part is one
// atomic word ((millisecond << 16) | count) advanced by compare-and-swap, and the random bits come
// from a generator per thread. Past 65,536 ids in a millisecond the count carries into the next
// millisecond, as does a clock that went back: order is kept either way.
std::atomic<uint64_t> g_last{0};

uint64_t next_stamp() {
  auto now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  uint64_t fresh = now << 16;
  uint64_t last = g_last.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = fresh > last ? fresh : last + 1;
  } while (!g_last.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return next;
}

uint64_t random_bits() {
  thread_local std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                   std::random_device{}()};
  return rng();
}
}  // namespace

std::string new_id() {
  std::string out(36, '-');
  new_id_into(out.data());
  return out;
}

void new_id_into(char* out) {
  // stamp: 48-bit milliseconds, 16-bit count. UUIDv7 layout: unix_ts_ms (48) | ver 7 (4) |
  // rand_a (12) = count's top 12 bits | var 10 (2) | rand_b (62) = count's low 4 bits, then 58
  // random bits.
  uint64_t stamp = next_stamp();
  uint64_t ms = stamp >> 16, count = stamp & 0xffff;
  uint64_t b = ((count & 0xf) << 58) | (random_bits() & 0x03ffffffffffffffULL);
  uint8_t bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  bytes[6] = static_cast<uint8_t>(0x70 | ((count >> 12) & 0x0f));
  bytes[7] = static_cast<uint8_t>((count >> 4) & 0xff);
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
