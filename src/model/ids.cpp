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

uint64_t clock_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// The next stamp after the newest one, from millisecond `ms` (0: read the clock).
uint64_t next_stamp(uint64_t ms) {
  uint64_t last = g_last.load(std::memory_order_relaxed);
  // A given time far ahead of the ids made so far would carry every later id's time with it.
  constexpr uint64_t kAheadLimit = uint64_t{1000} << 16;
  if (ms == 0 || (ms << 16) > last + kAheadLimit) ms = clock_ms();
  uint64_t fresh = ms << 16;
  uint64_t next;
  do {
    next = fresh > last ? fresh : last + 1;
  } while (!g_last.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return next;
}

// The eight lowercase hex digits of `x`, most significant first, into out[0..8).
void hex_digits(uint32_t x, char* out) {
  uint64_t v = x;
  v = (v | (v << 16)) & 0x0000ffff0000ffffULL;
  v = (v | (v << 8)) & 0x00ff00ff00ff00ffULL;
  v = (v | (v << 4)) & 0x0f0f0f0f0f0f0f0fULL;  // nibble k (from the least) in byte k
  uint64_t letters = ((v + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;  // nibble > 9
  v += 0x3030303030303030ULL + letters * ('a' - '0' - 10);
  v = __builtin_bswap64(v);  // the most significant digit first in memory (little-endian)
  std::memcpy(out, &v, 8);
}

uint64_t random_bits() {
  thread_local std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                   std::random_device{}()};
  return rng();
}

// stamp: 48-bit milliseconds, 16-bit count. UUIDv7 layout: unix_ts_ms (48) | ver 7 (4) | rand_a
// (12) = count's top 12 bits | var 10 (2) | rand_b (62) = count's low 4 bits, then 58 random bits.
void format_id(uint64_t stamp, char* out) {
  uint64_t ms = stamp >> 16, count = stamp & 0xffff;
  uint64_t b = ((count & 0xf) << 58) | (random_bits() & 0x03ffffffffffffffULL);
  // The 16 bytes, big-endian, as two words.
  uint64_t hi = (ms << 16) | 0x7000 | ((count >> 4) & 0x0fff);
  uint64_t lo = (uint64_t{0x80 | ((b >> 56) & 0x3f)} << 56) | (b & 0x00ffffffffffffffULL);
  // Every task state takes a fresh id on the SDK hot path, so the text is made eight digits at
  // a time: each nibble spread into a byte of its own, then turned into its digit by arithmetic.
  char hex[32];
  hex_digits(static_cast<uint32_t>(hi >> 32), hex);
  hex_digits(static_cast<uint32_t>(hi), hex + 8);
  hex_digits(static_cast<uint32_t>(lo >> 32), hex + 16);
  hex_digits(static_cast<uint32_t>(lo), hex + 24);
  std::memcpy(out, hex, 8);
  out[8] = '-';
  std::memcpy(out + 9, hex + 8, 4);
  out[13] = '-';
  std::memcpy(out + 14, hex + 12, 4);
  out[18] = '-';
  std::memcpy(out + 19, hex + 16, 4);
  out[23] = '-';
  std::memcpy(out + 24, hex + 20, 12);
}
}  // namespace

std::string new_id() {
  std::string out(36, '-');
  new_id_into(out.data());
  return out;
}

std::string new_id(int64_t unix_us) {
  std::string out(36, '-');
  new_id_into(out.data(), unix_us);
  return out;
}

void new_id_into(char* out) { format_id(next_stamp(0), out); }

void new_id_into(char* out, int64_t unix_us) {
  format_id(next_stamp(unix_us >= 1000 ? static_cast<uint64_t>(unix_us / 1000) : 0), out);
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
