// Bearer-token authentication for the server.
//
// The key comes from BATON_SERVER_API_KEY, or from the file named by BATON_SERVER_API_KEY_FILE
// (first line, surrounding whitespace trimmed). With no key configured every request is allowed.
// With one, a request is allowed only with `Authorization: Bearer <key>`; the comparison hashes
// both sides with BLAKE2b (libsodium) and compares the digests with sodium_memcmp, so its timing
// reveals neither the key nor its length.
//
// Thread-safety: immutable after construction; allowed() is safe from any thread.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace baton::server {

class ApiKeyAuth {
 public:
  // No key: everything is allowed.
  ApiKeyAuth() = default;
  explicit ApiKeyAuth(const std::string& key);

  // From the environment as described above. Throws baton::Error (invalid_argument) when the key
  // file cannot be read or is empty.
  static ApiKeyAuth from_environment();

  bool enabled() const noexcept { return digest_.has_value(); }
  // `authorization` is the raw header value ("" when absent).
  bool allowed(std::string_view authorization) const noexcept;

 private:
  std::optional<std::array<unsigned char, 32>> digest_;
};

}  // namespace baton::server
