#include "core/names.h"

#include <array>
#include <random>

#include "baton/error.h"

namespace baton::core {

std::string render_name(const std::string& pattern, const nlohmann::json& values,
                        const std::string& field) {
  std::string out;
  out.reserve(pattern.size() + 16);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    auto close = pattern.find('}', i);
    if (close == std::string::npos)
      throw invalid_argument("unclosed '{' in name template '" + pattern + "'", field);
    std::string key = pattern.substr(i + 1, close - i - 1);
    auto it = values.is_object() ? values.find(key) : values.end();
    if (it == values.end()) {
      std::string known;
      if (values.is_object())
        for (auto k = values.begin(); k != values.end(); ++k)
          known += (known.empty() ? "" : ", ") + k.key();
      throw invalid_argument("name template '" + pattern + "' uses {" + key +
                                 "}, which is not one of: " + (known.empty() ? "(none)" : known),
                             field);
    }
    out += it->is_string() ? it->get<std::string>() : it->dump();
    i = close;
  }
  return out;
}

std::string random_run_name() {
  static constexpr std::array<const char*, 24> kAdjectives{
      "amber",  "brave",  "calm",  "clever", "crimson", "daring", "eager", "fancy",
      "gentle", "golden", "happy", "jolly",  "keen",    "lively", "lucky", "mellow",
      "nimble", "proud",  "quick", "rapid",  "silver",  "steady", "swift", "witty"};
  static constexpr std::array<const char*, 24> kAnimals{
      "badger", "beaver", "bison",  "condor", "crane",  "falcon", "ferret", "gecko",
      "heron",  "ibis",   "jaguar", "koala",  "lemur",  "lynx",   "marmot", "narwhal",
      "ocelot", "otter",  "panda",  "puffin", "quokka", "raven",  "tapir",  "walrus"};
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> a(0, kAdjectives.size() - 1),
      b(0, kAnimals.size() - 1);
  return std::string(kAdjectives[a(rng)]) + "-" + kAnimals[b(rng)];
}

}  // namespace baton::core
