// API token secrets: format and hashing. The secret is shown once (status.token of the
// create response) and only its SHA-256 is stored.
#pragma once

#include <string>
#include <string_view>

namespace tessera::apiserver {

/// A new secret: "tsr_" followed by 43 base64url characters (256 random bits).
std::string newTokenSecret();
/// The stored form of a secret.
std::string hashTokenSecret(std::string_view secret);
/// Cheap shape check before any lookup.
bool looksLikeTokenSecret(std::string_view secret);

}  // namespace tessera::apiserver
