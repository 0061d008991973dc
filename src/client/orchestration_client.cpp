#include "client/orchestration_client.h"

namespace baton {

std::string_view to_string(SetStateStatus s) noexcept {
  switch (s) {
    case SetStateStatus::kAccept:
      return "ACCEPT";
    case SetStateStatus::kReject:
      return "REJECT";
    case SetStateStatus::kWait:
      return "WAIT";
    case SetStateStatus::kAbort:
      return "ABORT";
  }
  return "UNKNOWN";
}

}  // namespace baton
