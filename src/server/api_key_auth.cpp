#include "server/api_key_auth.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "baton/error.h"

namespace baton::server {

namespace {
std::array<unsigned char, 32> digest(std::string_view text) {
  std::array<unsigned char, 32> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  return out;
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}
}  // namespace

ApiKeyAuth::ApiKeyAuth(const std::string& key) {
  if (sodium_init() < 0) throw Error(ErrorKind::kInternal, "libsodium failed to initialise");
  if (!key.empty()) digest_ = digest(key);
}

ApiKeyAuth ApiKeyAuth::from_environment() {
  if (const char* key = std::getenv("BATON_SERVER_API_KEY"); key && *key) return ApiKeyAuth(key);
  if (const char* file = std::getenv("BATON_SERVER_API_KEY_FILE"); file && *file) {
    std::ifstream in(file);
    std::string line;
    if (!in || !std::getline(in, line))
      throw invalid_argument(std::string("cannot read the API key file '") + file + "'",
                             "BATON_SERVER_API_KEY_FILE");
    line = trim(line);
    if (line.empty())
      throw invalid_argument(std::string("the API key file '") + file + "' is empty",
                             "BATON_SERVER_API_KEY_FILE");
    return ApiKeyAuth(line);
  }
  return ApiKeyAuth();
}

bool ApiKeyAuth::allowed(std::string_view authorization) const noexcept {
  if (!digest_) return true;
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() < kScheme.size()) return false;
  // The scheme name is case-insensitive (RFC 7235); the token is not.
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i])))
      return false;
  auto presented = digest(authorization.substr(kScheme.size()));
  return sodium_memcmp(presented.data(), digest_->data(), presented.size()) == 0;
}

}  // namespace baton::server
