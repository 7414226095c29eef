#include "apiserver/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <utility>

#include "common/crypto.h"
#include "common/logging.h"

namespace tessera::apiserver {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxFileBytes = 32 * 1024 * 1024;
constexpr std::size_t kMaxCachedBytes = 64 * 1024 * 1024;
constexpr char kAssetCache[] = "public, max-age=31536000, immutable";

struct TypeByExtension {
  const char* ext;
  const char* type;
};

// What a Vite build produces, and a few more.
constexpr std::array<TypeByExtension, 20> kTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".webp", "image/webp"},
    {".avif", "image/avif"},
    {".ico", "image/x-icon"},
    {".woff", "font/woff"},
    {".woff2", "font/woff2"},
    {".ttf", "font/ttf"},
    {".txt", "text/plain; charset=utf-8"},
    {".wasm", "application/wasm"},
}};

const char* contentTypeOf(std::string_view path) {
  auto slash = path.rfind('/');
  auto dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  std::string ext(path.substr(dot));
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& t : kTypes) {
    if (ext == t.ext) return t.type;
  }
  return "application/octet-stream";
}

bool isHtml(std::string_view type) {
  return type.rfind("text/html", 0) == 0;
}

// If-None-Match: "*" or a comma-separated list of (possibly weak) entity tags.
bool etagMatches(std::string_view header, std::string_view etag) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto comma = header.find(',', pos);
    std::string_view item =
        header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "*") return true;
    if (item.rfind("W/", 0) == 0) item.remove_prefix(2);
    if (item == etag) return true;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

void addSecurityHeaders(HttpResponse& r, bool html) {
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (html) {
    r.headers.emplace_back("Content-Security-Policy", StaticFiles::contentSecurityPolicy());
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Referrer-Policy", "same-origin");
  }
}

HttpResponse notFound() {
  HttpResponse r;
  r.status = 404;
  r.contentType = "text/plain; charset=utf-8";
  r.body = "404 page not found\n";
  r.headers.emplace_back("Cache-Control", "no-cache");
  addSecurityHeaders(r, false);
  return r;
}

HttpResponse notBuiltPage() {
  HttpResponse r;
  r.status = 404;
  r.contentType = "text/html; charset=utf-8";
  r.body =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>Tessera: console not built</title></head>\n<body>\n"
      "<h1>The Tessera console is not built</h1>\n"
      "<p>This tessera-server found no built console (a directory with "
      "<code>index.html</code>). Build it with <code>npm ci &amp;&amp; npm run build</code> in "
      "<code>web/</code> (<code>./deploy/up.sh</code> does it), or start the server with "
      "<code>--web-root DIR</code>.</p>\n"
      "<p>The API is served as usual: <code>/apis</code>, <code>/healthz</code>, "
      "<code>/metrics</code>.</p>\n</body></html>\n";
  r.headers.emplace_back("Cache-Control", "no-cache");
  addSecurityHeaders(r, true);
  return r;
}

bool safeSegment(const std::string& seg) {
  if (seg.empty() || seg.front() == '.') return false;  // "..", ".", dotfiles
  for (char c : seg) {
    if (c == '/' || c == '\\' || c == '\0') return false;
  }
  return true;
}

}  // namespace

struct StaticFiles::Entry {
  std::string body;
  std::string etag;
  const char* contentType = "application/octet-stream";
  std::int64_t mtimeNs = 0;
  std::int64_t size = 0;
};

StaticFiles::StaticFiles(std::string root) {
  if (root.empty()) return;
  std::error_code ec;
  fs::path canonical = fs::canonical(root, ec);
  if (ec || !fs::is_directory(canonical, ec)) {
    getLogger("console")->warn("web root not usable root=\"{}\"", root);
    return;
  }
  root_ = canonical.string();
  if (!fs::is_regular_file(canonical / "index.html", ec)) {
    getLogger("console")->warn("web root has no index.html root=\"{}\"", root_);
    root_.clear();
  }
}

StaticFiles::~StaticFiles() = default;

const char* StaticFiles::contentSecurityPolicy() {
  // Scripts, styles, fonts, images and API calls from this server only; Vite inlines small
  // assets as data: URIs. Inline style attributes are allowed (charting libraries set them);
  // inline scripts are not.
  return "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
         "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
         "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
}

bool StaticFiles::isConsolePath(const std::vector<std::string>& segments) {
  if (segments.empty()) return true;
  static const std::array<std::string_view, 8> kApiRoots = {
      "api", "apis", "openapi", "version", "healthz", "readyz", "livez", "metrics"};
  for (auto r : kApiRoots) {
    if (segments.front() == r) return false;
  }
  return true;
}

std::string StaticFiles::firstBuiltRoot(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates) {
    std::error_code ec;
    if (!c.empty() && fs::is_regular_file(fs::path(c) / "index.html", ec)) return c;
  }
  return {};
}

std::shared_ptr<const StaticFiles::Entry> StaticFiles::load(const std::string& relative) {
  std::error_code ec;
  fs::path resolved = fs::canonical(fs::path(root_) / relative, ec);
  if (ec) return nullptr;
  const std::string path = resolved.string();
  if (path.size() <= root_.size() + 1 || path.compare(0, root_.size(), root_) != 0 ||
      path[root_.size()] != '/') {
    return nullptr;  // outside the root (a symlink pointing out, for one)
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::size_t>(st.st_size) > kMaxFileBytes) {
    return nullptr;
  }
  const std::int64_t mtimeNs =
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(relative);
    if (it != cache_.end() && it->second->mtimeNs == mtimeNs && it->second->size == st.st_size) {
      return it->second;
    }
  }
  // O_NOFOLLOW: the canonical path has no symlinks; refuse one swapped in since.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return nullptr;
  auto e = std::make_shared<Entry>();
  struct stat fst {};
  bool ok = ::fstat(fd, &fst) == 0 && S_ISREG(fst.st_mode) &&
            static_cast<std::size_t>(fst.st_size) <= kMaxFileBytes;
  if (ok) {
    e->body.resize(static_cast<std::size_t>(fst.st_size));
    std::size_t got = 0;
    while (got < e->body.size()) {
      ssize_t n = ::read(fd, e->body.data() + got, e->body.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    e->body.resize(got);
  }
  ::close(fd);
  if (!ok) return nullptr;
  e->mtimeNs = static_cast<std::int64_t>(fst.st_mtim.tv_sec) * 1000000000 + fst.st_mtim.tv_nsec;
  e->size = fst.st_size;
  e->etag = "\"" + sha256Hex(e->body).substr(0, 32) + "\"";
  e->contentType = contentTypeOf(relative);
  std::shared_ptr<const Entry> entry = std::move(e);
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(relative);
    if (it != cache_.end()) {
      cachedBytes_ -= it->second->body.size();
      cache_.erase(it);
    }
    if (cachedBytes_ + entry->body.size() <= kMaxCachedBytes) {
      cache_[relative] = entry;
      cachedBytes_ += entry->body.size();
    }
  }
  return entry;
}

HttpResponse StaticFiles::serve(const std::vector<std::string>& segments,
                                std::string_view ifNoneMatch) {
  if (root_.empty()) return notBuiltPage();
  std::string relative;
  for (const auto& seg : segments) {
    if (!safeSegment(seg)) return notFound();
    if (!relative.empty()) relative += '/';
    relative += seg;
  }
  const bool asset = !segments.empty() && segments.front() == "assets";
  std::shared_ptr<const Entry> entry;
  if (!relative.empty()) entry = load(relative);
  if (!entry) {
    if (asset) return notFound();
    entry = load("index.html");  // the single-page app's own routes
    if (!entry) return notBuiltPage();
  }
  HttpResponse r;
  r.contentType = entry->contentType;
  r.headers.emplace_back("ETag", entry->etag);
  r.headers.emplace_back("Cache-Control", asset ? kAssetCache : "no-cache");
  addSecurityHeaders(r, isHtml(entry->contentType));
  if (!ifNoneMatch.empty() && etagMatches(ifNoneMatch, entry->etag)) {
    r.status = 304;
    return r;
  }
  r.status = 200;
  r.body = entry->body;
  return r;
}

}  // namespace tessera::apiserver
