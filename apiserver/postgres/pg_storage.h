// PgStorage: the Storage implementation on PostgreSQL (libpqxx).
//
// Layout (see docs/storage.md): tessera.revisions holds every version of every object (the
// resource version is the writing transaction's 64-bit id); tessera.objects points at each
// live object's latest revision; tessera.audit holds the audit log. A change pump thread
// publishes committed revisions to the WatchHub in version order; it is woken by this
// process's own writes, by NOTIFY from other server processes, and by a slow poll (the
// safety net for lost notifications). A compactor trims history older than the retention.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "apiserver/storage.h"
#include "apiserver/watch_hub.h"

namespace prometheus {
class Registry;
}

namespace tessera::apiserver::pg {

struct PgStorageOptions {
  /// libpq connection string or URI. Logged only with the password removed.
  std::string conninfo;
  int poolSize = 8;
  std::size_t queueLimit = 4096;
  std::chrono::milliseconds statementTimeout{15000};
  /// How long a read may wait for older transactions to finish (see wait_settled).
  std::chrono::milliseconds settleTimeout{5000};
  /// The change pump polls at least this often even without a doorbell.
  std::chrono::milliseconds pollInterval{250};
  /// Minimum spacing of the NOTIFYs that tell other server processes about our writes.
  std::chrono::milliseconds notifyInterval{5};
  std::size_t pumpBatch = 1000;
  /// Revisions are kept at least this long; watches and continue tokens older than that get
  /// 410 Gone.
  std::chrono::seconds historyRetention{3600};
  std::chrono::seconds auditRetention{std::chrono::hours(24 * 90)};
  std::chrono::seconds compactInterval{60};
};

class PgStorage final : public Storage {
 public:
  /// Connects (retrying for up to `connectTimeout`), applies migrations and starts the change
  /// pump, the NOTIFY listener and the compactor. Returns once the pump has published its
  /// first watermark.
  static Result<std::unique_ptr<PgStorage>> open(PgStorageOptions options, WatchHub& hub,
                                                 prometheus::Registry& metrics,
                                                 std::chrono::seconds connectTimeout);
  ~PgStorage() override;

  /// Stops the background threads and the pool. Pending jobs finish first. Idempotent.
  void stop();

  /// One compaction pass with the given retention, now. Blocking (tests, operations).
  Status compactNow(std::chrono::seconds retention);

  Awaitable<Result<StoredObject>> get(ObjectKey key) override;
  Awaitable<Result<ListPage>> list(ListQuery query) override;
  Awaitable<Result<WriteResult>> write(WriteRequest request) override;
  Awaitable<Status> recordAudit(AuditRecord record) override;
  Awaitable<Result<AuditPage>> listAudit(AuditQuery query) override;
  Awaitable<Result<std::vector<ChangeEvent>>> changesSince(std::int64_t after, std::int64_t upTo,
                                                           std::size_t limit) override;
  Awaitable<Result<StoredObject>> lookupCredential(std::string hash) override;
  Awaitable<Status> ping() override;

 private:
  struct Impl;
  explicit PgStorage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::apiserver::pg
