#include "common/signals.h"

#include <csignal>

namespace tessera {
namespace {

sigset_t terminationSignals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  return sigs;
}

}  // namespace

void blockTerminationSignals() {
  const sigset_t sigs = terminationSignals();
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

const char* awaitTerminationSignal() {
  const sigset_t sigs = terminationSignals();
  int sig = 0;
  while (sigwait(&sigs, &sig) != 0) {
  }
  return sig == SIGTERM ? "SIGTERM" : "SIGINT";
}

}  // namespace tessera
