// Orderly shutdown on SIGINT/SIGTERM for Tessera's daemons: the signals are blocked in every
// thread (call this first in main(), before any thread starts) and taken by one sigwait().
#pragma once

namespace tessera {

/// Blocks SIGINT and SIGTERM for this thread and the threads it starts later, and ignores
/// SIGPIPE (a peer that went away is an error on the write, not a reason to die).
void blockTerminationSignals();

/// Waits until SIGINT or SIGTERM arrives; returns its name ("SIGTERM" or "SIGINT").
const char* awaitTerminationSignal();

}  // namespace tessera
