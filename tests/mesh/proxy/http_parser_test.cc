// The proxy's HTTP/1.1 head parser and chunked-body scanner.
#include "mesh/proxy/http_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace tessera::mesh::proxy {
namespace {

TEST(HttpParser, ParsesRequestHead) {
  std::string s =
      "POST /api/x?uid=42&a=b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n"
      "Connection: keep-alive, X-Foo\r\nExpect: 100-continue\r\n\r\nhello";
  RequestHead h;
  ASSERT_EQ(parseRequestHead(s.data(), s.size(), h), ParseStatus::kComplete);
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.target, "/api/x?uid=42&a=b");
  EXPECT_EQ(h.path, "/api/x");
  EXPECT_EQ(h.query, "uid=42&a=b");
  EXPECT_EQ(h.host, "example.com");
  EXPECT_EQ(h.contentLength, 5);
  EXPECT_TRUE(h.expectContinue);
  EXPECT_TRUE(h.keepAlive());
  EXPECT_EQ(h.headLength, s.size() - 5);
  EXPECT_EQ(h.bodyKind(), BodyKind::kContentLength);
  EXPECT_TRUE(isHopByHop("x-foo", h.connectionTokens));
  EXPECT_TRUE(isHopByHop("Transfer-Encoding", {}));
  EXPECT_FALSE(isHopByHop("x-bar", h.connectionTokens));
  EXPECT_FALSE(h.idempotent());
}

TEST(HttpParser, IncompleteAndErrors) {
  RequestHead h;
  std::string partial = "GET / HTTP/1.1\r\nHost: x\r\n";
  EXPECT_EQ(parseRequestHead(partial.data(), partial.size(), h), ParseStatus::kIncomplete);
  for (std::string bad : {
           std::string("GET / HTTP/2.0\r\n\r\n"),
           std::string("GET /\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nNo colon\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
           std::string("\x16\x03\x01\x02"),
       }) {
    EXPECT_EQ(parseRequestHead(bad.data(), bad.size(), h), ParseStatus::kError) << bad;
  }
  std::string v10 = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_EQ(parseRequestHead(v10.data(), v10.size(), h), ParseStatus::kComplete);
  EXPECT_FALSE(h.keepAlive());
}

TEST(HttpParser, ParsesResponseHead) {
  std::string s = "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n";
  ResponseHead r;
  ASSERT_EQ(parseResponseHead(s.data(), s.size(), r), ParseStatus::kComplete);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.reason, "Service Unavailable");
  EXPECT_EQ(r.bodyKind(false), BodyKind::kChunked);
  EXPECT_EQ(r.bodyKind(true), BodyKind::kNone);
  std::string eof = "HTTP/1.0 200 OK\r\n\r\n";
  ASSERT_EQ(parseResponseHead(eof.data(), eof.size(), r), ParseStatus::kComplete);
  EXPECT_EQ(r.bodyKind(false), BodyKind::kUntilClose);
  EXPECT_FALSE(r.keepAlive());
  std::string noContent = "HTTP/1.1 204 No Content\r\n\r\n";
  ASSERT_EQ(parseResponseHead(noContent.data(), noContent.size(), r), ParseStatus::kComplete);
  EXPECT_EQ(r.bodyKind(false), BodyKind::kNone);
}

// The parser finds the end of the head while it parses (no separate search for CRLF CRLF):
// every prefix of a head is incomplete, the whole head is complete, and bytes after it are not
// part of it.
TEST(HttpParser, EveryPrefixOfAHeadIsIncompleteAndTheWholeHeadCompletes) {
  const std::string request =
      "PUT /a?b=c HTTP/1.1\r\nHost: first.example\r\nhost: second.example\r\n"
      "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  const std::string withBody = request + "abcGET /next HTTP/1.1\r\n";
  for (size_t n = 0; n < request.size(); ++n) {
    RequestHead h;
    EXPECT_EQ(parseRequestHead(withBody.data(), n, h), ParseStatus::kIncomplete) << n;
  }
  RequestHead h;
  ASSERT_EQ(parseRequestHead(withBody.data(), withBody.size(), h), ParseStatus::kComplete);
  EXPECT_EQ(h.headLength, request.size());
  EXPECT_EQ(h.host, "first.example");  // the first Host header
  EXPECT_TRUE(h.expectContinue);
  EXPECT_EQ(h.contentLength, 3);
  EXPECT_EQ(h.headerCount, 4u);

  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\n";
  const std::string withBytes = response + "ok";
  for (size_t n = 0; n < response.size(); ++n) {
    ResponseHead r;
    EXPECT_EQ(parseResponseHead(withBytes.data(), n, r), ParseStatus::kIncomplete) << n;
  }
  ResponseHead r;
  ASSERT_EQ(parseResponseHead(withBytes.data(), withBytes.size(), r), ParseStatus::kComplete);
  EXPECT_EQ(r.headLength, response.size());
  EXPECT_EQ(r.contentLength, 2);
}

// A malformed line is rejected as soon as it is complete, without waiting for the head's end.
TEST(HttpParser, AMalformedLineIsRejectedBeforeTheHeadEnds) {
  RequestHead h;
  for (std::string bad : {
           std::string("GET / HTTP/1.1\r\nBad Name: x\r\n"),
           std::string("GET / HTTP/1.1\r\nX: a\rb\r\n"),
           std::string("GET / HTTP/9.9\r\n"),
           std::string("GET / HTTP/1.1\rX"),
       }) {
    EXPECT_EQ(parseRequestHead(bad.data(), bad.size(), h), ParseStatus::kError) << bad;
  }
  RequestHead noExpect;
  std::string plain = "GET / HTTP/1.1\r\nExpect: something-else\r\n\r\n";
  ASSERT_EQ(parseRequestHead(plain.data(), plain.size(), noExpect), ParseStatus::kComplete);
  EXPECT_FALSE(noExpect.expectContinue);
  EXPECT_TRUE(noExpect.host.empty());
}

TEST(ChunkedScanner, FindsTheEndAcrossArbitrarySplits) {
  const std::string body =
      "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n";
  const std::string after = "GET /next HTTP/1.1\r\n";
  const std::string all = body + after;
  for (size_t split = 1; split < all.size(); ++split) {
    ChunkedScanner sc;
    size_t used = sc.scan(all.data(), split);
    if (!sc.done()) used += sc.scan(all.data() + split, all.size() - split);
    ASSERT_TRUE(sc.done()) << split;
    EXPECT_EQ(used, body.size()) << split;
  }
  ChunkedScanner bad;
  std::string garbage = "zz\r\n";
  bad.scan(garbage.data(), garbage.size());
  EXPECT_TRUE(bad.failed());
}

// What an HTTP/1.0 client gets: the chunks' data without sizes, extensions or trailers, however
// the bytes are split between reads.
TEST(ChunkedScanner, ReportsWhereTheDataIsAcrossArbitrarySplits) {
  const std::string all =
      "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\nGET /";
  const size_t bodySize = all.size() - std::string_view("GET /").size();
  for (size_t split = 1; split < all.size(); ++split) {
    ChunkedScanner sc;
    std::string data;
    size_t begin = 0, used = 0;
    for (size_t end : {split, all.size()}) {
      ChunkedScanner::DataSpans spans;  // offsets into this call's bytes
      used += sc.scan(all.data() + begin, end - begin, &spans);
      for (const auto& [offset, n] : spans) data.append(all, begin + offset, n);
      if (sc.done()) break;
      begin = end;
    }
    ASSERT_TRUE(sc.done()) << split;
    EXPECT_EQ(used, bodySize) << split;
    EXPECT_EQ(data, "helloabcdefghijklmnopqrstuvwxyz") << split;
  }
}

}  // namespace
}  // namespace tessera::mesh::proxy
