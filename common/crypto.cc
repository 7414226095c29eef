#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <stdexcept>
#include <vector>

namespace tessera {
namespace {

void fillRandom(unsigned char* p, std::size_t n) {
  if (RAND_bytes(p, static_cast<int>(n)) != 1) {
    // Without randomness we cannot mint credentials safely; this is not recoverable.
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
}

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string encode(std::string_view data, bool url) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto alpha = [url](unsigned v) {
    char c = kB64[v & 63];
    if (url && c == '+') return '-';
    if (url && c == '/') return '_';
    return c;
  };
  while (i + 3 <= data.size()) {
    unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out += alpha(v >> 18);
    out += alpha(v >> 12);
    out += alpha(v >> 6);
    out += alpha(v);
    i += 3;
  }
  std::size_t rest = data.size() - i;
  if (rest > 0) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += alpha(v >> 18);
    out += alpha(v >> 12);
    if (rest == 2) out += alpha(v >> 6);
    if (!url) out += (rest == 2) ? "=" : "==";
  }
  return out;
}

bool decode(std::string_view in, std::string& out, bool url) {
  out.clear();
  unsigned acc = 0;
  int bits = 0;
  std::size_t n = 0;  // alphabet characters before any padding
  for (; n < in.size(); ++n) {
    const char c = in[n];
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == (url ? '-' : '+'))
      v = 62;
    else if (c == (url ? '_' : '/'))
      v = 63;
    else if (c == '=' && !url)
      break;
    else
      return false;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (n % 4 == 1) return false;  // a lone trailing character encodes no byte
  if (n < in.size()) {
    // Padding: only '=' may follow, and it must complete the last group of four.
    const std::size_t pad = in.size() - n;
    if (n % 4 == 0 || in.substr(n).find_first_not_of('=') != std::string_view::npos ||
        (n + pad) % 4 != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string randomToken(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  fillRandom(buf.data(), buf.size());
  return encode(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()), true);
}

std::string sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL EVP_Digest(sha256) failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string newUuid() {
  std::array<unsigned char, 16> b{};
  fillRandom(b.data(), b.size());
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  char s[37];
  std::snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                b[13], b[14], b[15]);
  return s;
}

std::string randomSuffix(std::size_t n) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";  // as Kubernetes
  std::vector<unsigned char> buf(n);
  fillRandom(buf.data(), buf.size());
  std::string out;
  out.reserve(n);
  for (unsigned char c : buf) out += kAlphabet[c % kAlphabet.size()];
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64Encode(std::string_view data) {
  return encode(data, false);
}
bool base64Decode(std::string_view in, std::string& out) {
  return decode(in, out, false);
}
std::string base64UrlEncode(std::string_view data) {
  return encode(data, true);
}
bool base64UrlDecode(std::string_view in, std::string& out) {
  return decode(in, out, true);
}

}  // namespace tessera
