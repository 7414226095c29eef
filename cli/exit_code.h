// tessctl's exit codes: the contract with runbooks (docs/tessctl.md, `tessctl --help`).
#pragma once

namespace tessera::cli {

enum class ExitCode : int {
  kOk = 0,        // success
  kFailed = 1,    // the server failed (5xx) or could not be reached; the outcome may be unknown
  kUsage = 2,     // bad command line, or no usable kubeconfig/context
  kRefused = 3,   // the server refused (4xx other than 404: 400, 401, 403, 409, 422, ...)
  kNotFound = 4,  // the object, or the kind, does not exist (404)
  kTimedOut = 5,  // --wait ran out of time before the change was done
};

inline int toInt(ExitCode c) {
  return static_cast<int>(c);
}

/// The exit code for an HTTP status from the server (0: no response at all).
inline ExitCode exitCodeForHttp(int status) {
  if (status >= 200 && status < 300) return ExitCode::kOk;
  if (status == 404) return ExitCode::kNotFound;
  if (status >= 400 && status < 500) return ExitCode::kRefused;
  return ExitCode::kFailed;
}

}  // namespace tessera::cli
