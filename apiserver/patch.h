// Patches: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).
#pragma once

#include <boost/json/value.hpp>

#include "common/status.h"

namespace tessera::apiserver {

/// RFC 7386: objects merge recursively, `null` removes a key, anything else replaces.
boost::json::value applyMergePatch(const boost::json::value& target,
                                   const boost::json::value& patch);

/// RFC 6902: a list of add/remove/replace/move/copy/test operations, applied in order; the
/// first failing operation fails the whole patch (nothing is applied).
Result<boost::json::value> applyJsonPatch(const boost::json::value& target,
                                          const boost::json::value& patch);

}  // namespace tessera::apiserver
