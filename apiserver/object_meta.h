// Object metadata rules: name formats (DNS-1123), labels, annotations.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/api_error.h"

namespace tessera::apiserver {

/// Lower-case RFC 1123 subdomain, at most 253 characters ("dc-a.region-1").
bool isDns1123Subdomain(std::string_view s);
/// Lower-case RFC 1123 label, at most 63 characters ("dc-a").
bool isDns1123Label(std::string_view s);
/// Kubernetes qualified name: [prefix/]name, as label and annotation keys use.
bool isQualifiedName(std::string_view s);
/// Label value: empty, or at most 63 of [A-Za-z0-9-_.] starting and ending alphanumeric.
bool isLabelValue(std::string_view s);

/// The metadata fields a client may send. Others are reported as unknown.
const std::vector<std::string>& knownMetadataFields();

/// Validates a client-sent `metadata` object: name (unless generateName is used), namespace,
/// labels, annotations. Unknown fields go to `unknown` as "metadata.<field>".
void validateObjectMeta(const boost::json::value& meta, bool allowGenerateName,
                        std::vector<FieldCause>& errors, std::vector<std::string>& unknown);

}  // namespace tessera::apiserver
