#include "mesh/proxy/http_parser.h"

#include <array>
#include <cstring>

namespace tessera::mesh::proxy {
namespace {

inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// RFC 9110 tchar.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int ch = '0'; ch <= '9'; ++ch) t[ch] = true;
  for (int ch = 'a'; ch <= 'z'; ++ch) t[ch] = true;
  for (int ch = 'A'; ch <= 'Z'; ++ch) t[ch] = true;
  for (char ch : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(ch)] = true;
  return t;
}();

inline bool isTokenChar(unsigned char c) {
  return kTokenChars[c];
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True if the comma-separated list `value` contains `token` (case-insensitive).
bool listHas(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = trim(value.substr(0, comma));
    if (equalsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool parseDecimal(std::string_view s, int64_t& out) {
  s = trim(s);
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// Parses the header lines that start at `p`, up to and including the blank line that ends the
// head, in the same pass that looks for that line (no separate search for CRLF CRLF). `end` is
// the end of the bytes received so far. kComplete sets out.headLength (from `start`);
// kIncomplete: the blank line has not arrived. Interprets the framing and connection headers,
// and for a request (`request` not null) Host and Expect.
ParseStatus parseHeaders(const char* start, const char* p, const char* end, MessageHead& out,
                         RequestHead* request) {
  out.headerCount = 0;
  out.contentLength = -1;
  out.chunked = false;
  out.connectionClose = false;
  out.connectionKeepAlive = false;
  out.upgrade = false;
  out.connectionTokens = {};
  if (request != nullptr) {
    request->host = {};
    request->expectContinue = false;
  }
  bool sawContentLength = false;
  bool sawTransferEncoding = false;
  bool sawHost = false;
  bool sawExpect = false;
  while (true) {
    if (p + 2 > end) return ParseStatus::kIncomplete;
    if (p[0] == '\r' && p[1] == '\n') {
      if (sawContentLength && sawTransferEncoding) return ParseStatus::kError;
      out.headLength = static_cast<size_t>(p + 2 - start);
      return ParseStatus::kComplete;
    }
    const char* lineEnd = static_cast<const char*>(memchr(p, '\r', static_cast<size_t>(end - p)));
    if (lineEnd == nullptr || lineEnd + 1 >= end) return ParseStatus::kIncomplete;
    if (lineEnd[1] != '\n') return ParseStatus::kError;
    const char* colon = p;
    while (colon < lineEnd && *colon != ':') {
      if (!isTokenChar(static_cast<unsigned char>(*colon))) return ParseStatus::kError;
      ++colon;
    }
    if (colon == p || colon == lineEnd) return ParseStatus::kError;
    if (out.headerCount == kMaxHeaders) return ParseStatus::kError;
    std::string_view name(p, static_cast<size_t>(colon - p));
    std::string_view value =
        trim(std::string_view(colon + 1, static_cast<size_t>(lineEnd - colon - 1)));
    for (char c : value) {
      if (c == '\n' || c == '\0') return ParseStatus::kError;
    }
    out.headers[out.headerCount++] = HeaderField{name, value};
    switch (name.size()) {
      case 4:
        if (request != nullptr && !sawHost && equalsIgnoreCase(name, "host")) {
          request->host = value;
          sawHost = true;
        }
        break;
      case 6:
        if (request != nullptr && !sawExpect && equalsIgnoreCase(name, "expect")) {
          request->expectContinue = equalsIgnoreCase(value, "100-continue");
          sawExpect = true;
        }
        break;
      case 7:
        if (equalsIgnoreCase(name, "upgrade")) out.upgrade = true;
        break;
      case 10:
        if (equalsIgnoreCase(name, "connection")) {
          if (listHas(value, "close")) out.connectionClose = true;
          if (listHas(value, "keep-alive")) out.connectionKeepAlive = true;
          out.connectionTokens = value;
        }
        break;
      case 14:
        if (equalsIgnoreCase(name, "content-length")) {
          int64_t v = 0;
          if (!parseDecimal(value, v)) return ParseStatus::kError;
          if (sawContentLength && v != out.contentLength) return ParseStatus::kError;
          sawContentLength = true;
          out.contentLength = v;
        }
        break;
      case 17:
        if (equalsIgnoreCase(name, "transfer-encoding")) {
          sawTransferEncoding = true;
          // Only "chunked" (last) is understood; anything else cannot be framed.
          std::string_view v = trim(value);
          size_t comma = v.rfind(',');
          std::string_view last = trim(comma == std::string_view::npos ? v : v.substr(comma + 1));
          if (!equalsIgnoreCase(last, "chunked")) return ParseStatus::kError;
          out.chunked = true;
        }
        break;
      default:
        break;
    }
    p = lineEnd + 2;
  }
}

bool parseVersion(std::string_view v, int& minor) {
  if (v.size() != 8 || v.substr(0, 7) != "HTTP/1.") return false;
  if (v[7] < '0' || v[7] > '9') return false;
  minor = v[7] - '0';
  return true;
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view MessageHead::find(std::string_view name, bool* found) const {
  for (size_t i = 0; i < headerCount; ++i) {
    if (equalsIgnoreCase(headers[i].name, name)) {
      if (found != nullptr) *found = true;
      return headers[i].value;
    }
  }
  if (found != nullptr) *found = false;
  return {};
}

bool RequestHead::idempotent() const {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
         method == "DELETE" || method == "TRACE";
}

ParseStatus parseRequestHead(const char* data, size_t len, RequestHead& out) {
  const char* end = data + len;
  const char* lineEnd = static_cast<const char*>(memchr(data, '\r', len));
  if (lineEnd == nullptr || lineEnd + 1 >= end) {
    // A request line must look like one early: reject binary garbage (a TLS handshake, say)
    // without waiting. Any visible character may appear in a target ("/a?b=c").
    for (size_t i = 0; i < len && i < 16; ++i) {
      unsigned char c = static_cast<unsigned char>(data[i]);
      if (c != ' ' && c != '\r' && c != '\n' && (c < 0x21 || c > 0x7e)) {
        return ParseStatus::kError;
      }
    }
    return ParseStatus::kIncomplete;
  }
  if (lineEnd[1] != '\n') return ParseStatus::kError;
  std::string_view line(data, static_cast<size_t>(lineEnd - data));
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return ParseStatus::kError;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return ParseStatus::kError;
  out.method = line.substr(0, sp1);
  for (char c : out.method) {
    if (!isTokenChar(static_cast<unsigned char>(c))) return ParseStatus::kError;
  }
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!parseVersion(line.substr(sp2 + 1), out.minorVersion)) return ParseStatus::kError;
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return ParseStatus::kError;
  }
  size_t q = out.target.find('?');
  out.path = out.target.substr(0, q);
  out.query = q == std::string_view::npos ? std::string_view() : out.target.substr(q + 1);
  return parseHeaders(data, lineEnd + 2, end, out, &out);
}

ParseStatus parseResponseHead(const char* data, size_t len, ResponseHead& out) {
  const char* end = data + len;
  const char* lineEnd = static_cast<const char*>(memchr(data, '\r', len));
  if (lineEnd == nullptr || lineEnd + 1 >= end) {
    if (len >= 5 && std::memcmp(data, "HTTP/", 5) != 0) return ParseStatus::kError;
    return ParseStatus::kIncomplete;
  }
  if (lineEnd[1] != '\n') return ParseStatus::kError;
  std::string_view line(data, static_cast<size_t>(lineEnd - data));
  if (line.size() < 12 || line[8] != ' ') return ParseStatus::kError;
  if (!parseVersion(line.substr(0, 8), out.minorVersion)) return ParseStatus::kError;
  int status = 0;
  for (int i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return ParseStatus::kError;
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100) return ParseStatus::kError;
  out.status = status;
  out.reason = line.size() > 13 ? line.substr(13) : std::string_view();
  return parseHeaders(data, lineEnd + 2, end, out, nullptr);
}

bool isHopByHop(std::string_view name, std::string_view connectionTokens) {
  switch (name.size()) {
    case 2:
      if (equalsIgnoreCase(name, "te")) return true;
      break;
    case 7:
      if (equalsIgnoreCase(name, "trailer") || equalsIgnoreCase(name, "upgrade")) return true;
      break;
    case 10:
      if (equalsIgnoreCase(name, "connection") || equalsIgnoreCase(name, "keep-alive")) return true;
      break;
    case 16:
      if (equalsIgnoreCase(name, "proxy-connection")) return true;
      break;
    case 17:
      if (equalsIgnoreCase(name, "transfer-encoding")) return true;
      break;
    default:
      break;
  }
  if (!connectionTokens.empty() && listHas(connectionTokens, name)) return true;
  return false;
}

size_t ChunkedScanner::scan(const char* data, size_t len, DataSpans* dataSpans) {
  size_t i = 0;
  while (i < len && state_ != State::kDone && state_ != State::kError) {
    char c = data[i];
    switch (state_) {
      case State::kSize: {
        int digit = -1;
        if (c >= '0' && c <= '9')
          digit = c - '0';
        else if (c >= 'a' && c <= 'f')
          digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
          digit = c - 'A' + 10;
        if (digit >= 0) {
          if (++sizeDigits_ > 15) {
            state_ = State::kError;
            break;
          }
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(digit);
        } else if (sizeDigits_ == 0) {
          state_ = State::kError;
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = State::kSizeExt;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else {
          state_ = State::kError;
        }
        ++i;
        break;
      }
      case State::kSizeExt:
        if (c == '\r')
          state_ = State::kSizeLf;
        else if (c == '\n')
          state_ = State::kError;
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') {
          state_ = State::kError;
          break;
        }
        ++i;
        sizeDigits_ = 0;
        state_ = remaining_ == 0 ? State::kTrailerStart : State::kData;
        break;
      case State::kData: {
        size_t take = len - i;
        if (take > remaining_) take = static_cast<size_t>(remaining_);
        if (dataSpans != nullptr && take > 0) dataSpans->emplace_back(i, take);
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        state_ = c == '\r' ? State::kDataLf : State::kError;
        ++i;
        break;
      case State::kDataLf:
        state_ = c == '\n' ? State::kSize : State::kError;
        ++i;
        break;
      case State::kTrailerStart:
        state_ = c == '\r' ? State::kFinalLf : State::kTrailerLine;
        ++i;
        break;
      case State::kTrailerLine:
        if (c == '\r') state_ = State::kTrailerLf;
        ++i;
        break;
      case State::kTrailerLf:
        state_ = c == '\n' ? State::kTrailerStart : State::kError;
        ++i;
        break;
      case State::kFinalLf:
        state_ = c == '\n' ? State::kDone : State::kError;
        ++i;
        break;
      case State::kDone:
      case State::kError:
        break;
    }
  }
  return i;
}

}  // namespace tessera::mesh::proxy
