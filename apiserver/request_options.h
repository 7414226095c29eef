// Parsing of request details shared by the REST handlers: Accept negotiation, continue
// tokens, and list/watch query options.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tessera::apiserver {

enum class OutputFormat { kJson, kTable };

/// Chooses JSON or a meta.k8s.io/v1 Table from an Accept header; nullopt when nothing
/// acceptable is offered (406).
std::optional<OutputFormat> negotiateOutput(std::string_view accept);

/// Position of the next page of a list: the snapshot version and the last key returned.
struct ContinueToken {
  std::int64_t rv = 0;
  std::string ns;
  std::string name;
  std::int64_t auditId = 0;  // AuditEvent lists page by id instead
};

std::string encodeContinue(const ContinueToken& t);
/// kInvalidArgument when the token is not one this server issued.
Result<ContinueToken> decodeContinue(std::string_view token);

}  // namespace tessera::apiserver
