#include "core/result_store.h"

#include <sodium.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "baton/error.h"
#include "model/ids.h"

namespace baton::core {

namespace fs = std::filesystem;

std::string digest(std::string_view text) {
  unsigned char out[16];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(32, '0');
  for (std::size_t i = 0; i < sizeof out; ++i) {
    hex[2 * i] = kHex[out[i] >> 4];
    hex[2 * i + 1] = kHex[out[i] & 15];
  }
  return hex;
}

ResultStore::ResultStore(fs::path dir) : dir_(std::move(dir)) {}

fs::path ResultStore::path_for(const std::string& key) const {
  bool safe = !key.empty() && key.size() <= 120 && key.front() != '.';
  for (char c : key)
    safe =
        safe && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  return dir_ / ((safe ? key : "k-" + digest(key)) + ".json");
}

void ResultStore::write(const std::string& key, const nlohmann::json& value,
                        std::optional<TimePoint> expiration) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  nlohmann::json doc = {
      {"key", key},
      {"created", format_time(now())},
      {"expiration", expiration ? nlohmann::json(format_time(*expiration)) : nlohmann::json()},
      {"result", value}};
  fs::path target = path_for(key);
  static std::atomic<unsigned> counter{0};
  fs::path tmp = target;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << doc.dump();
    out.flush();
    if (!out) throw unavailable("cannot write result file " + tmp.string());
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw unavailable("cannot store result at " + target.string() + ": " + ec.message());
  }
}

std::optional<StoredResult> ResultStore::read(const std::string& key, TimePoint at) const {
  std::ifstream in(path_for(key), std::ios::binary);
  if (!in) return std::nullopt;
  try {
    nlohmann::json doc = nlohmann::json::parse(in);
    if (doc.value("key", std::string()) != key) return std::nullopt;  // a digest collision
    StoredResult r;
    r.value = doc.at("result");
    r.created = parse_time(doc.at("created").get<std::string>(), "created");
    if (const auto& e = doc.at("expiration"); e.is_string())
      r.expiration = parse_time(e.get<std::string>(), "expiration");
    if (r.expiration && *r.expiration <= at) return std::nullopt;
    return r;
  } catch (const std::exception&) {
    return std::nullopt;  // an unreadable entry is a miss: the task runs and rewrites it
  }
}

bool ResultStore::remove(const std::string& key) {
  std::error_code ec;
  return fs::remove(path_for(key), ec);
}

}  // namespace baton::core
