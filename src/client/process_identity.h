// Which process is running a flow run, recorded so that a run left RUNNING by a process that died
// can be told from one still running.
//
// The identity is "hostname:pid:start-ticks", where start-ticks is the process start time from
// /proc/<pid>/stat (field 22): a reused pid has a different start time, so it never passes for
// the dead process.
//
// Thread-safety: free functions, safe from any thread.
#pragma once

#include <optional>
#include <string>

namespace baton {

// This process's identity.
std::string current_process_identity();

struct ProcessIdentity {
  std::string hostname;
  long pid = 0;
  std::string start_ticks;
};
std::optional<ProcessIdentity> parse_process_identity(const std::string& text);

// True when `identity` names a process on this host that no longer exists (or whose pid now
// belongs to a different process). False when it is alive, on another host, or unparseable:
// only a certain death counts.
bool process_is_gone(const std::string& identity);

}  // namespace baton
