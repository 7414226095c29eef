// Waiting for a condition with a deadline: tests never sleep a fixed time hoping something
// happened.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace tessera::testing {

/// Polls `done` until it returns true or `timeout` passes. Returns the last result.
inline bool waitFor(const std::function<bool()>& done,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20),
                    std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace tessera::testing
