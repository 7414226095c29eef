#include "apiserver/auth.h"

#include <algorithm>
#include <boost/json.hpp>

#include "apiserver/credential.h"
#include "apiserver/kinds/kinds.h"

namespace tessera::apiserver {
namespace json = boost::json;

namespace {
constexpr std::size_t kCacheLimit = 10000;
}

Authenticator::Authenticator(Storage& storage, WatchHub& hub, std::chrono::seconds cacheTtl)
    : storage_(storage), ttl_(cacheTtl) {
  std::lock_guard lock(mu_);
  tokenChanges_ = hub.subscribe(apiTokenKind().kind, [this] { invalidate(); });
}

void Authenticator::invalidate() {
  std::lock_guard lock(mu_);
  if (tokenChanges_) {
    bool overflowed = false, closed = false;
    tokenChanges_->drain(overflowed, closed);
  }
  cache_.clear();
  ++generation_;
}

Awaitable<Result<Principal>> Authenticator::authenticate(std::string_view authorization) {
  if (authorization.empty()) {
    co_return Status(StatusCode::kUnauthenticated,
                     "no credentials: send Authorization: Bearer <token>");
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    co_return Status(StatusCode::kUnauthenticated, "unsupported authorization scheme: use Bearer");
  }
  std::string_view secret = authorization.substr(kBearer.size());
  while (!secret.empty() && secret.front() == ' ') secret.remove_prefix(1);
  if (!looksLikeTokenSecret(secret)) {
    co_return Status(StatusCode::kUnauthenticated, "malformed bearer token");
  }
  const std::string hash = hashTokenSecret(secret);
  const auto now = std::chrono::steady_clock::now();
  std::uint64_t gen;
  {
    std::lock_guard lock(mu_);
    gen = generation_;
    auto it = cache_.find(hash);
    if (it != cache_.end() && now - it->second.fetched < ttl_) {
      if (it->second.expires && *it->second.expires <= std::chrono::system_clock::now()) {
        co_return Status(StatusCode::kUnauthenticated, "token expired");
      }
      co_return it->second.principal;
    }
  }
  auto stored = co_await storage_.lookupCredential(hash);
  if (!stored.isOk()) {
    if (stored.status().code() == StatusCode::kNotFound) {
      co_return Status(StatusCode::kUnauthenticated, "invalid bearer token");
    }
    co_return stored.status();
  }
  boost::system::error_code ec;
  json::value v = json::parse(stored->json, ec);
  if (ec || !v.is_object()) co_return internalError("unreadable APIToken object");
  const auto& o = v.get_object();
  if (schemas::at(o, "kind") != json::value("APIToken")) {
    // Other credentials (bootstrap tokens) are for the agent protocol, not for the API.
    co_return Status(StatusCode::kUnauthenticated, "invalid bearer token");
  }
  Entry e;
  e.fetched = now;
  json::value user = schemas::at(o, "spec.user");
  json::value role = schemas::at(o, "spec.role");
  json::value name = schemas::at(o, "metadata.name");
  json::value exp = schemas::at(o, "spec.expirationTimestamp");
  auto r = role.is_string() ? parseRole(role.get_string()) : std::nullopt;
  if (!user.is_string() || !r) co_return internalError("APIToken without user or role");
  e.principal.user = std::string(user.get_string());
  e.principal.role = *r;
  if (name.is_string()) e.principal.tokenName = std::string(name.get_string());
  if (exp.is_string()) e.expires = parseRfc3339(exp.get_string());
  {
    std::lock_guard lock(mu_);
    if (gen == generation_) {
      if (cache_.size() >= kCacheLimit) cache_.clear();
      cache_[hash] = e;
    }
  }
  if (e.expires && *e.expires <= std::chrono::system_clock::now()) {
    co_return Status(StatusCode::kUnauthenticated, "token expired");
  }
  co_return e.principal;
}

bool authorize(Role role, const KindInfo& kind, Verb verb, bool statusSubresource) {
  // Agents speak the agent protocol only, proxies the mesh protocol only.
  if (role == Role::kAgent || role == Role::kProxy) return false;
  if (role == Role::kAdmin) return true;
  if (kind.access.adminOnly) return false;
  if (isReadVerb(verb)) return true;
  if (role != Role::kOperator || statusSubresource) return false;
  const auto& ops = kind.access.operatorVerbs;
  return std::find(ops.begin(), ops.end(), verb) != ops.end();
}

}  // namespace tessera::apiserver
