#include "client/process_identity.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace baton {

namespace {
std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// Field 22 of /proc/<pid>/stat; the command name (field 2) may contain spaces and parentheses,
// so fields are counted after its closing parenthesis.
std::string start_ticks(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && (rest >> field); ++i) {
    if (i == 22) return field;
  }
  return {};
}
}  // namespace

std::string current_process_identity() {
  // Never destroyed: threads that outlive static destruction (a final flush at exit) may ask.
  static const std::string& identity = *new std::string([] {
    long pid = static_cast<long>(getpid());
    return hostname() + ":" + std::to_string(pid) + ":" + start_ticks(pid);
  }());
  return identity;
}

std::optional<ProcessIdentity> parse_process_identity(const std::string& text) {
  auto last = text.rfind(':');
  if (last == std::string::npos || last == 0) return std::nullopt;
  auto middle = text.rfind(':', last - 1);
  if (middle == std::string::npos) return std::nullopt;
  ProcessIdentity id;
  id.hostname = text.substr(0, middle);
  try {
    size_t used = 0;
    std::string pid_text = text.substr(middle + 1, last - middle - 1);
    id.pid = std::stol(pid_text, &used);
    if (used != pid_text.size() || id.pid <= 0) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  id.start_ticks = text.substr(last + 1);
  return id;
}

bool process_is_gone(const std::string& identity) {
  auto id = parse_process_identity(identity);
  if (!id || id->hostname != hostname()) return false;
  if (kill(static_cast<pid_t>(id->pid), 0) != 0 && errno == ESRCH) return true;
  // The pid exists: it is the same process only if it started at the same time.
  std::string ticks = start_ticks(id->pid);
  return !id->start_ticks.empty() && !ticks.empty() && ticks != id->start_ticks;
}

}  // namespace baton
