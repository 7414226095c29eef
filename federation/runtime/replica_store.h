// The process runtime's record of what it runs (<stateDir>/replicas.json), from which the next
// agent re-adopts its replicas instead of starting them twice.
//
// Internal to federation/runtime.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/time_util.h"
#include "federation/runtime/runtime.h"

namespace tessera::runtime {

/// One replica process as recorded.
struct StoredReplica {
  std::string name;
  std::string workloadKey;
  std::string specHash;  // key into StoredState::specs
  int ordinal = 0;
  std::int64_t pid = 0;
  std::uint64_t startTicks = 0;  // /proc/<pid>/stat field 22: tells a reused pid apart
  std::vector<std::pair<std::string, std::uint16_t>> ports;  // port name → host port
  int restarts = 0;
  std::optional<SystemTime> startedAt;
};

struct StoredState {
  std::string bootId;  // /proc/sys/kernel/random/boot_id: after a reboot nothing is re-adopted
  std::map<std::string, WorkloadSpec> specs;  // spec hash → the spec its replicas run
  std::vector<StoredReplica> replicas;
};

/// A hash of everything in `spec` except `replicas`: replicas with the same name and hash run
/// the same thing.
std::string specHash(const WorkloadSpec& spec);

/// JSON text of `state` (deterministic: the same state always gives the same text).
std::string encodeStoredState(const StoredState& state);
/// kInvalidArgument when `text` is not a state written by encodeStoredState().
Result<StoredState> decodeStoredState(std::string_view text);

/// Replaces `path` with `content` atomically (a temporary file in the same directory, then
/// rename), mode 0600: the specs may carry secrets in their environment.
Status writeFileAtomically(const std::string& path, const std::string& content);

}  // namespace tessera::runtime
