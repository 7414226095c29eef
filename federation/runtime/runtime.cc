#include "federation/runtime/runtime.h"

namespace tessera::runtime {

const char* replicaStateName(ReplicaState s) {
  switch (s) {
    case ReplicaState::kStarting:
      return "Starting";
    case ReplicaState::kRunning:
      return "Running";
    case ReplicaState::kReady:
      return "Ready";
    case ReplicaState::kBackoff:
      return "Backoff";
    case ReplicaState::kStopping:
      return "Stopping";
    case ReplicaState::kFailed:
      return "Failed";
  }
  return "Unknown";
}

}  // namespace tessera::runtime
