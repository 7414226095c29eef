// StaticFiles: the web console (web/dist), served by tessera-server at `/`.
//
// Every GET/HEAD whose path is outside the API (see isConsolePath) is answered here, without
// authentication: the files hold no data. A path naming a regular file under the root answers
// that file; any other path answers index.html (the single-page app routes in the browser),
// except under /assets/ (hashed build outputs), where a missing file is a 404. Paths with a
// segment starting with '.' (so "..", ".", dotfiles), with '/', '\' or NUL inside a decoded
// segment, or resolving (symlinks included) outside the root are 404 as well.
//
// Caching: index.html (and every file outside /assets/) is `Cache-Control: no-cache` with a
// strong ETag (a hash of the content), so browsers revalidate and get 304s; /assets/* are
// `max-age=31536000, immutable` (their names change with their content). HTML answers carry a
// Content-Security-Policy allowing only the server itself, `frame-ancestors 'none'`; every answer
// carries `X-Content-Type-Options: nosniff`.
//
// Files are read on first use and kept in memory until their size or mtime changes (checked with
// one stat() per request); files over 32 MiB are not served, and the cache holds at most 64 MiB
// (beyond that, files are read per request).
//
// Without a usable root (empty, missing, or no index.html) every console path answers a short
// HTML page (404) saying that the console is not built and how to build it.
//
// Thread-safety: serve() may be called concurrently from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/http_types.h"

namespace tessera::apiserver {

class StaticFiles {
 public:
  /// `root`: the built console (a directory with index.html), or "" for none.
  explicit StaticFiles(std::string root);
  ~StaticFiles();

  /// True for request paths (decoded, empty segments dropped) that belong to the console: every
  /// path whose first segment is not api, apis, openapi, version, healthz, readyz, livez or
  /// metrics ("/" included).
  static bool isConsolePath(const std::vector<std::string>& segments);

  /// The answer to GET (or HEAD: the caller drops the body) of `segments`, honouring an
  /// If-None-Match header value (304 when it names the current ETag).
  HttpResponse serve(const std::vector<std::string>& segments, std::string_view ifNoneMatch);

  /// The root in use ("" when the console is not available).
  const std::string& root() const { return root_; }

  /// The default --web-root: the first of `candidates` that holds an index.html, or "".
  static std::string firstBuiltRoot(const std::vector<std::string>& candidates);

  /// The value of the Content-Security-Policy header on HTML answers.
  static const char* contentSecurityPolicy();

 private:
  struct Entry;
  /// The file `relative` (no leading '/') under the root, or nullptr when it is not a regular
  /// file inside the root.
  std::shared_ptr<const Entry> load(const std::string& relative);

  std::string root_;  // canonical, or "" when not usable
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Entry>> cache_;  // by relative path
  std::size_t cachedBytes_ = 0;
};

}  // namespace tessera::apiserver
