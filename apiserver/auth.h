// Authentication (bearer tokens) and authorization (roles).
//
// Tokens are APIToken objects; the secret's SHA-256 is looked up in storage and the result
// cached briefly. Any change to an APIToken anywhere (this process or another one) clears the
// cache as soon as the change pump sees it, so a deleted token stops working within the
// pump's latency; the TTL only bounds how long a cache entry lives without any change.
//
// Roles (see docs/auth.md): viewer reads; operator reads and runs day-to-day operations (per
// kind: AccessPolicy::operatorVerbs); admin does everything. Admin-only kinds (APIToken) are
// invisible to the others.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "apiserver/kind.h"
#include "apiserver/storage.h"
#include "apiserver/watch_hub.h"

namespace tessera::apiserver {

struct Principal {
  std::string user;
  Role role = Role::kViewer;
  std::string tokenName;
};

class Authenticator {
 public:
  Authenticator(Storage& storage, WatchHub& hub, std::chrono::seconds cacheTtl);

  /// From an "Authorization" header value. kUnauthenticated (with a reason safe to show the
  /// client) when missing, malformed, unknown or expired; kUnavailable when storage is down.
  Awaitable<Result<Principal>> authenticate(std::string_view authorization);

 private:
  struct Entry {
    Principal principal;
    std::optional<SystemTime> expires;
    std::chrono::steady_clock::time_point fetched;
  };
  void invalidate();

  Storage& storage_;
  const std::chrono::seconds ttl_;
  std::shared_ptr<WatchHub::Subscription> tokenChanges_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> cache_;  // by secret hash
  std::uint64_t generation_ = 0;                  // bumped by every invalidation
};

/// Whether `role` may do `verb` on `kind` (the main resource, or its /status subresource).
bool authorize(Role role, const KindInfo& kind, Verb verb, bool statusSubresource);

}  // namespace tessera::apiserver
