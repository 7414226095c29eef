#include "apiserver/credential.h"

#include <algorithm>

#include "common/crypto.h"

namespace tessera::apiserver {

std::string newTokenSecret() {
  return "tsr_" + randomToken(32);
}

std::string hashTokenSecret(std::string_view secret) {
  return sha256Hex(secret);
}

bool looksLikeTokenSecret(std::string_view s) {
  if (s.size() < 8 || s.size() > 256) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
  });
}

}  // namespace tessera::apiserver
