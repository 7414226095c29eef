// Small cryptographic helpers on OpenSSL: random tokens, hashes, UUIDs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tessera {

/// `bytes` bytes from the OpenSSL CSPRNG, base64url-encoded without padding.
std::string randomToken(std::size_t bytes);

/// Lower-case hex SHA-256 of `data`.
std::string sha256Hex(std::string_view data);

/// A random (version 4) UUID in canonical 8-4-4-4-12 form.
std::string newUuid();

/// `n` random characters from [a-z0-9], as Kubernetes uses for generateName suffixes.
std::string randomSuffix(std::size_t n);

/// Constant-time comparison of two strings of equal length (false when lengths differ).
bool constantTimeEquals(std::string_view a, std::string_view b);

std::string base64Encode(std::string_view data);
/// Returns false on malformed input.
bool base64Decode(std::string_view in, std::string& out);
/// URL-safe alphabet, no padding (RFC 4648 §5).
std::string base64UrlEncode(std::string_view data);
bool base64UrlDecode(std::string_view in, std::string& out);

}  // namespace tessera
