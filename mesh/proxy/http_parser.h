// A small, allocation-free HTTP/1.1 message-head parser for the proxy's hot path.
//
// The parser works in place: a parsed head is a set of string_views into the caller's buffer,
// valid while that buffer is not modified. Only what a proxy needs is interpreted (framing,
// connection management, a few routing headers); every other header is passed through as is.
// Line endings must be CRLF; obsolete line folding is rejected (RFC 9112 §5.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::mesh::proxy {

inline constexpr std::size_t kMaxHeaders = 100;

struct HeaderField {
  std::string_view name;
  std::string_view value;
};

enum class ParseStatus { kComplete, kIncomplete, kError };

/// What the framing headers say about a message body.
enum class BodyKind {
  kNone,           // no body
  kContentLength,  // exactly contentLength bytes
  kChunked,        // chunked transfer coding (passed through verbatim)
  kUntilClose,     // responses only: the body ends when the connection closes
};

/// Fields common to requests and responses.
struct MessageHead {
  HeaderField headers[kMaxHeaders];
  std::size_t headerCount = 0;
  std::size_t headLength = 0;  // bytes of the head, including the final CRLF CRLF
  int minorVersion = 1;        // HTTP/1.<minor>
  int64_t contentLength = -1;
  bool chunked = false;
  bool connectionClose = false;      // "Connection: close"
  bool connectionKeepAlive = false;  // "Connection: keep-alive"
  bool upgrade = false;              // an Upgrade header is present
  /// Names listed in the Connection header (besides close/keep-alive) are hop-by-hop too.
  std::string_view connectionTokens;

  /// Keep-alive by the version's default and the Connection header.
  bool keepAlive() const {
    if (connectionClose) return false;
    return minorVersion >= 1 || connectionKeepAlive;
  }
  /// The first header named `name` (case-insensitive), or empty with found=false.
  std::string_view find(std::string_view name, bool* found = nullptr) const;
};

struct RequestHead : MessageHead {
  std::string_view method;
  std::string_view target;  // as sent: origin-form "/path?query"
  std::string_view path;    // target before '?'
  std::string_view query;   // after '?', without it
  std::string_view host;
  bool expectContinue = false;

  BodyKind bodyKind() const {
    if (chunked) return BodyKind::kChunked;
    if (contentLength > 0) return BodyKind::kContentLength;
    return BodyKind::kNone;
  }
  bool idempotent() const;
};

struct ResponseHead : MessageHead {
  int status = 0;
  std::string_view reason;

  /// The response body's framing for a request with `method` (HEAD: no body).
  BodyKind bodyKind(bool headRequest) const {
    if (headRequest || (status >= 100 && status < 200) || status == 204 || status == 304)
      return BodyKind::kNone;
    if (chunked) return BodyKind::kChunked;
    if (contentLength >= 0) return contentLength > 0 ? BodyKind::kContentLength : BodyKind::kNone;
    return BodyKind::kUntilClose;
  }
};

/// Parses a request head from the start of [data, data+len). kIncomplete: more bytes needed
/// (the caller bounds the head size); kError: malformed (answer 400 and close).
ParseStatus parseRequestHead(const char* data, std::size_t len, RequestHead& out);
ParseStatus parseResponseHead(const char* data, std::size_t len, ResponseHead& out);

/// True if `name` is a hop-by-hop header that a proxy must not forward (RFC 9110 §7.6.1),
/// including those listed in the message's Connection header.
bool isHopByHop(std::string_view name, std::string_view connectionTokens);

bool equalsIgnoreCase(std::string_view a, std::string_view b);

/// Finds where a chunked body ends, incrementally: feed it the body bytes as they arrive (in
/// order); it consumes bytes up to the end of the body (last chunk and trailers) and no
/// further.
class ChunkedScanner {
 public:
  /// Where chunk data lies in the bytes given to scan(): offset and length.
  using DataSpans = std::vector<std::pair<std::size_t, std::size_t>>;

  /// Consumes up to `len` bytes; returns how many belong to the body. Check done() / failed().
  /// With `dataSpans`, also appends where the chunk data is among them: the body without its
  /// framing, for a client that cannot read chunked coding.
  std::size_t scan(const char* data, std::size_t len, DataSpans* dataSpans = nullptr);
  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kError; }
  void reset() { *this = ChunkedScanner(); }

 private:
  enum class State {
    kSize,
    kSizeExt,
    kSizeLf,
    kData,
    kDataCr,
    kDataLf,
    kTrailerStart,
    kTrailerLine,
    kTrailerLf,
    kFinalLf,
    kDone,
    kError
  };
  State state_ = State::kSize;
  uint64_t remaining_ = 0;
  int sizeDigits_ = 0;
};

}  // namespace tessera::mesh::proxy
