#include "apiserver/postgres/pg_storage.h"

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "apiserver/kind.h"
#include "apiserver/postgres/db_pool.h"
#include "apiserver/postgres/migrations.h"
#include "common/logging.h"
#include "common/metrics.h"

namespace tessera::apiserver::pg {
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr char kChannel[] = "tessera_changes";
constexpr long long kCompactionLockKey = 0x7465737365726132LL;  // "tessera2"

// ---- SQL ----

constexpr char kGetSql[] =
    "SELECT r.rv, r.body::text FROM tessera.objects o JOIN tessera.revisions r ON r.rv = o.rv "
    "WHERE o.kind = $1 AND o.namespace = $2 AND o.name = $3";

constexpr char kWriteSql[] =
    "SELECT outcome, rv, prev_rv, body FROM tessera.write($1, $2, $3, $4, $5, $6::jsonb, $7, "
    "$8::timestamptz, $9, $10, $11, $12, $13, $14, $15, $16, $17)";

constexpr char kAuditSql[] =
    "INSERT INTO tessera.audit (received_at, username, role, verb, resource, subresource, "
    "namespace, name, code, reason, message, request_id, source_ip, user_agent, dry_run) "
    "VALUES ($1::timestamptz, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

constexpr char kCredentialSql[] =
    "SELECT r.rv, r.body::text FROM tessera.credentials c "
    "JOIN tessera.objects o ON o.kind = c.kind AND o.namespace = c.namespace AND o.name = c.name "
    "JOIN tessera.revisions r ON r.rv = o.rv WHERE c.hash = $1";

// Changes after $1 up to the settled watermark of this statement's snapshot: every
// transaction with an id below the snapshot's xmin has finished, so no change with a smaller
// version can still appear.
constexpr char kPumpSql[] =
    "WITH s AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1 AS w) "
    "SELECT s.w, c.rv, c.kind, c.namespace, c.name, c.type, c.body, c.prev_labels "
    "FROM s LEFT JOIN LATERAL ("
    "  SELECT r.rv, r.kind, r.namespace, r.name, r.type, r.body::text AS body, "
    "         (p.body->'metadata'->'labels')::text AS prev_labels "
    "  FROM tessera.revisions r LEFT JOIN tessera.revisions p ON p.rv = r.prev_rv "
    "  WHERE r.rv > $1 AND r.rv <= s.w ORDER BY r.rv LIMIT $2) c ON true "
    "ORDER BY c.rv";

constexpr char kChangesSql[] =
    "WITH h AS (SELECT horizon FROM tessera.compaction) "
    "SELECT h.horizon, c.rv, c.kind, c.namespace, c.name, c.type, c.body, c.prev_labels "
    "FROM h LEFT JOIN LATERAL ("
    "  SELECT r.rv, r.kind, r.namespace, r.name, r.type, r.body::text AS body, "
    "         (p.body->'metadata'->'labels')::text AS prev_labels "
    "  FROM tessera.revisions r LEFT JOIN tessera.revisions p ON p.rv = r.prev_rv "
    "  WHERE r.rv > $1 AND r.rv <= $2 ORDER BY r.rv LIMIT $3) c ON true "
    "ORDER BY c.rv";

void prepareStatements(pqxx::connection& c, std::chrono::milliseconds statementTimeout) {
  pqxx::nontransaction tx(c);
  tx.exec0("SET statement_timeout = " + std::to_string(statementTimeout.count()));
  tx.exec0("SET idle_in_transaction_session_timeout = 60000");
  tx.exec0("SET application_name = 'tessera-server'");
  tx.commit();
  c.prepare("get", kGetSql);
  c.prepare("write", kWriteSql);
  c.prepare("audit", kAuditSql);
  c.prepare("credential", kCredentialSql);
  c.prepare("changes", kChangesSql);
  c.prepare("settle", "SELECT tessera.settled_watermark($1)");
}

std::string timestampParam(SystemTime t) {
  return formatRfc3339Micro(t);
}

EventType parseEventType(std::string_view s) {
  if (s == "ADDED") return EventType::kAdded;
  if (s == "DELETED") return EventType::kDeleted;
  return EventType::kModified;
}

// Builds parameter placeholders for dynamic SQL.
class Params {
 public:
  /// A text parameter; cast it where another type is needed ("(" + add(x) + ")::bigint").
  std::string add(std::string v) {
    values_.push_back(std::move(v));
    return "$" + std::to_string(values_.size()) + "::text";
  }
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

// SQL condition for a label selector on the object JSON `body`.
std::string labelSql(const LabelSelector& sel, const std::string& body, Params& p) {
  std::string sql;
  const std::string labels = "(" + body + "->'metadata'->'labels')";
  for (const auto& r : sel.requirements()) {
    const std::string key = p.add(r.key);
    const std::string value = "(" + labels + "->>" + key + ")";
    using Op = LabelRequirement::Op;
    std::string list;  // every parameter added must be used, or PostgreSQL cannot type it
    if (r.op == Op::kIn || r.op == Op::kNotIn) {
      for (const auto& v : r.values) list += (list.empty() ? "" : ", ") + p.add(v);
    }
    switch (r.op) {
      case Op::kEquals:
        sql += " AND " + value + " = " + p.add(r.values[0]);
        break;
      case Op::kNotEquals:
        sql += " AND " + value + " IS DISTINCT FROM " + p.add(r.values[0]);
        break;
      case Op::kIn:
        sql += " AND " + value + " IN (" + list + ")";
        break;
      case Op::kNotIn:
        sql += " AND coalesce(" + value + " NOT IN (" + list + "), true)";
        break;
      case Op::kExists:
        sql += " AND coalesce(jsonb_exists(" + labels + ", " + key + "), false)";
        break;
      case Op::kDoesNotExist:
        sql += " AND NOT coalesce(jsonb_exists(" + labels + ", " + key + "), false)";
        break;
    }
  }
  return sql;
}

// SQL condition for metadata.name / metadata.namespace field selectors on `alias`.
std::string fieldSql(const FieldSelector& sel, const std::string& alias, Params& p) {
  std::string sql;
  for (const auto& r : sel.requirements()) {
    std::string col = r.field == "metadata.namespace" ? alias + ".namespace" : alias + ".name";
    sql += " AND " + col + (r.negate ? " <> " : " = ") + p.add(r.value);
  }
  return sql;
}

std::string auditToJson(const pqxx::row& row) {
  // Columns: see kAuditListColumns.
  json::object o;
  const std::string id = row[0].as<std::string>();
  auto received = row[1].as<std::string>();
  o["apiVersion"] = kApiVersion;
  o["kind"] = "AuditEvent";
  json::object meta;
  meta["name"] = id;
  meta["creationTimestamp"] = received.substr(0, 19) + "Z";
  o["metadata"] = std::move(meta);
  o["auditID"] = id;
  o["requestReceivedTimestamp"] = received;
  o["verb"] = row[4].as<std::string>();
  o["user"] =
      json::object{{"username", row[2].as<std::string>()}, {"role", row[3].as<std::string>()}};
  json::object ref;
  ref["resource"] = row[5].as<std::string>();
  ref["apiGroup"] = kGroup;
  ref["apiVersion"] = kVersion;
  if (!row[6].as<std::string>().empty()) ref["subresource"] = row[6].as<std::string>();
  if (!row[7].as<std::string>().empty()) ref["namespace"] = row[7].as<std::string>();
  if (!row[8].as<std::string>().empty()) ref["name"] = row[8].as<std::string>();
  o["objectRef"] = std::move(ref);
  json::object resp;
  resp["code"] = row[9].as<int>();
  if (!row[10].as<std::string>().empty()) resp["reason"] = row[10].as<std::string>();
  if (!row[11].as<std::string>().empty()) resp["message"] = row[11].as<std::string>();
  o["responseStatus"] = std::move(resp);
  if (!row[12].is_null()) o["resourceVersionBefore"] = row[12].as<std::string>();
  if (!row[13].is_null()) o["resourceVersionAfter"] = row[13].as<std::string>();
  if (!row[14].as<std::string>().empty()) o["requestID"] = row[14].as<std::string>();
  if (!row[15].as<std::string>().empty())
    o["sourceIPs"] = json::array{json::value(row[15].as<std::string>())};
  if (!row[16].as<std::string>().empty()) o["userAgent"] = row[16].as<std::string>();
  if (row[17].as<bool>()) o["dryRun"] = true;
  return json::serialize(o);
}

constexpr char kAuditListColumns[] =
    "id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), username, "
    "role, verb, resource, subresource, namespace, name, code, reason, message, rv_before, "
    "rv_after, request_id, source_ip, user_agent, dry_run";

std::vector<ChangeEvent> parseChanges(const pqxx::result& rows) {
  std::vector<ChangeEvent> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    if (row[1].is_null()) continue;
    ChangeEvent ev;
    ev.rv = row[1].as<std::int64_t>();
    ev.key.kind = row[2].as<std::string>();
    ev.key.ns = row[3].as<std::string>();
    ev.key.name = row[4].as<std::string>();
    ev.type = parseEventType(row[5].as<std::string>());
    ev.json = row[6].as<std::string>();
    if (!row[7].is_null()) ev.prevLabels = row[7].as<std::string>();
    out.push_back(std::move(ev));
  }
  return out;
}

}  // namespace

struct PgStorage::Impl {
  PgStorageOptions options;
  WatchHub& hub;
  std::shared_ptr<spdlog::logger> log = getLogger("storage");
  std::unique_ptr<DbPool> pool;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool doorbell = false;
  std::atomic<bool> localWrites{false};

  std::thread pumpThread, listenThread, compactThread;

  prometheus::Counter* pumpErrors;
  prometheus::Counter* notifiesSent;
  prometheus::Histogram* pumpLag;

  Impl(PgStorageOptions o, WatchHub& h) : options(std::move(o)), hub(h) {}

  void ring() {
    {
      std::lock_guard lock(mu);
      doorbell = true;
    }
    cv.notify_all();
  }

  bool sleepFor(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, d, [&] { return stopping; });
    return !stopping;
  }

  std::unique_ptr<pqxx::connection> connectOwn(const char* role) {
    try {
      auto c = std::make_unique<pqxx::connection>(options.conninfo);
      pqxx::nontransaction tx(*c);
      tx.exec0(std::string("SET application_name = 'tessera-server-") + role + "'");
      tx.exec0("SET statement_timeout = " + std::to_string(options.statementTimeout.count()));
      tx.commit();
      return c;
    } catch (...) {
      Status s = classifyCurrentException();
      log->warn("connect failed thread={} error=\"{}\"", role, s.message());
      return nullptr;
    }
  }

  // ---- change pump ----
  void pumpLoop() {
    std::unique_ptr<pqxx::connection> conn;
    std::int64_t last = -1;
    auto lastNotify = Clock::now() - options.notifyInterval;
    while (true) {
      {
        std::unique_lock lock(mu);
        cv.wait_for(lock, options.pollInterval, [&] { return stopping || doorbell; });
        if (stopping) break;
        doorbell = false;
      }
      if (!conn) {
        conn = connectOwn("pump");
        if (!conn) {
          sleepFor(std::chrono::milliseconds(500));
          continue;
        }
        conn->prepare("pump", kPumpSql);
      }
      try {
        while (true) {
          pqxx::nontransaction tx(*conn);
          auto started = Clock::now();
          pqxx::result rows = tx.exec_prepared("pump", last < 0 ? 0 : last,
                                               static_cast<long long>(options.pumpBatch));
          std::int64_t w = rows[0][0].as<std::int64_t>();
          if (last < 0) {
            // Start from now: earlier history is read on demand by the watches that need it.
            hub.publish({}, w);
            last = w;
            break;
          }
          std::vector<ChangeEvent> changes = parseChanges(rows);
          std::vector<WatchEventPtr> events;
          events.reserve(changes.size());
          for (auto& c : changes) {
            auto ev = makeWatchEvent(std::move(c));
            if (!ev.isOk()) {
              log->error("skipping unreadable revision error=\"{}\"", ev.status().message());
              continue;
            }
            events.push_back(std::move(ev).value());
          }
          bool full = changes.size() >= options.pumpBatch;
          std::int64_t watermark = full ? changes.back().rv : std::max(w, last);
          hub.publish(std::move(events), watermark);
          last = watermark;
          pumpLag->Observe(std::chrono::duration<double>(Clock::now() - started).count());
          if (!full) break;
        }
        if (localWrites.load() && Clock::now() - lastNotify >= options.notifyInterval) {
          localWrites = false;
          lastNotify = Clock::now();
          pqxx::nontransaction tx(*conn);
          tx.exec0(std::string("NOTIFY ") + kChannel);
          tx.commit();
          notifiesSent->Increment();
        } else if (localWrites.load()) {
          ring();  // come back after the spacing interval to send the trailing NOTIFY
          sleepFor(options.notifyInterval);
        }
      } catch (...) {
        Status s = classifyCurrentException();
        pumpErrors->Increment();
        log->warn("change pump error=\"{}\"", s.message());
        if (detail::connectionBrokenFlag() || !conn->is_open()) conn.reset();
        detail::connectionBrokenFlag() = false;
        sleepFor(std::chrono::milliseconds(200));
      }
    }
  }

  // ---- NOTIFY listener: other server processes' writes ----
  class Receiver final : public pqxx::notification_receiver {
   public:
    Receiver(pqxx::connection_base& c, Impl* impl)
        : notification_receiver(c, kChannel), impl_(impl) {}
    void operator()(const std::string&, int) override { impl_->ring(); }

   private:
    Impl* impl_;
  };

  void listenLoop() {
    while (true) {
      {
        std::lock_guard lock(mu);
        if (stopping) return;
      }
      auto conn = connectOwn("listen");
      if (!conn) {
        sleepFor(std::chrono::milliseconds(500));
        continue;
      }
      try {
        Receiver receiver(*conn, this);
        ring();  // anything missed while disconnected
        while (true) {
          {
            std::lock_guard lock(mu);
            if (stopping) return;
          }
          conn->await_notification(0, 250000);
        }
      } catch (...) {
        Status s = classifyCurrentException();
        detail::connectionBrokenFlag() = false;
        log->warn("notification listener error=\"{}\"", s.message());
        sleepFor(std::chrono::milliseconds(200));
      }
    }
  }

  // ---- compaction ----
  Status compact(pqxx::connection& c, std::chrono::seconds retention) {
    pqxx::nontransaction tx(c);
    auto locked =
        tx.exec1("SELECT pg_try_advisory_lock(" + std::to_string(kCompactionLockKey) + ")")[0]
            .as<bool>();
    if (!locked) return Status::ok();  // another server is compacting
    struct Unlock {
      pqxx::nontransaction& tx;
      ~Unlock() {
        try {
          tx.exec("SELECT pg_advisory_unlock(" + std::to_string(kCompactionLockKey) + ")");
        } catch (...) {
          (void)classifyCurrentException();
        }
      }
    } unlock{tx};
    // Record where the watermark is now, then take as horizon the newest watermark recorded
    // more than `retention` ago.
    tx.exec0(
        "INSERT INTO tessera.rv_clock (recorded_at, rv) VALUES (clock_timestamp(), "
        "pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1) ON CONFLICT DO NOTHING");
    const double secs = static_cast<double>(retention.count());
    auto h = tx.exec_params1(
                   "SELECT coalesce(max(rv), 0) FROM tessera.rv_clock "
                   "WHERE recorded_at <= clock_timestamp() - make_interval(secs => $1)",
                   secs)[0]
                 .as<std::int64_t>();
    tx.exec_params0(
        "UPDATE tessera.compaction SET horizon = $1, compacted_at = now() WHERE horizon < $1", h);
    auto state = tx.exec1("SELECT horizon, compacted_to FROM tessera.compaction");
    const std::int64_t horizon = state[0].as<std::int64_t>();
    std::int64_t cursor = state[1].as<std::int64_t>();
    long long removed = 0;
    // Walk the revisions between where the last pass stopped and the horizon: each one
    // supersedes its predecessor (prev_rv), and a deletion at or below the horizon leaves
    // nothing to keep. The latest version of every object stays. Small batches, each its own
    // transaction: a long one would hold back every watch (see docs/storage.md).
    while (cursor < horizon) {
      pqxx::result batch = tx.exec_params(
          "SELECT rv, prev_rv, type FROM tessera.revisions WHERE rv > $1 AND rv <= $2 "
          "ORDER BY rv LIMIT 1000",
          cursor, horizon);
      std::string ids;
      for (const auto& row : batch) {
        if (!row[1].is_null()) ids += (ids.empty() ? "" : ",") + row[1].as<std::string>();
        if (row[2].as<std::string>() == "DELETED") {
          ids += (ids.empty() ? "" : ",") + row[0].as<std::string>();
        }
      }
      if (!ids.empty()) {
        removed += tx.exec_params("DELETE FROM tessera.revisions WHERE rv = ANY($1::bigint[])",
                                  "{" + ids + "}")
                       .affected_rows();
      }
      cursor = batch.empty() ? horizon : batch[batch.size() - 1][0].as<std::int64_t>();
      tx.exec_params0("UPDATE tessera.compaction SET compacted_to = $1", cursor);
      std::lock_guard lock(mu);
      if (stopping) break;
    }
    tx.exec_params0(
        "DELETE FROM tessera.rv_clock WHERE recorded_at < clock_timestamp() - "
        "make_interval(secs => $1) AND rv < $2",
        secs, horizon);
    long long auditRemoved = 0;
    while (true) {
      auto r = tx.exec_params(
          "DELETE FROM tessera.audit WHERE id IN (SELECT id FROM tessera.audit WHERE "
          "received_at < now() - make_interval(secs => $1) ORDER BY id LIMIT 5000)",
          static_cast<double>(options.auditRetention.count()));
      auditRemoved += r.affected_rows();
      if (r.affected_rows() < 5000) break;
    }
    if (removed || auditRemoved) {
      log->info("compacted horizon={} revisions_removed={} audit_removed={}", horizon, removed,
                auditRemoved);
    }
    return Status::ok();
  }

  void compactLoop() {
    std::unique_ptr<pqxx::connection> conn;
    while (
        sleepFor(std::chrono::duration_cast<std::chrono::milliseconds>(options.compactInterval))) {
      if (!conn) conn = connectOwn("compact");
      if (!conn) continue;
      try {
        (void)compact(*conn, options.historyRetention);
      } catch (...) {
        Status s = classifyCurrentException();
        log->warn("compaction error=\"{}\"", s.message());
        detail::connectionBrokenFlag() = false;
        conn.reset();
      }
    }
  }
};

PgStorage::PgStorage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PgStorage::~PgStorage() {
  stop();
}

Result<std::unique_ptr<PgStorage>> PgStorage::open(PgStorageOptions options, WatchHub& hub,
                                                   prometheus::Registry& metrics,
                                                   std::chrono::seconds connectTimeout) {
  auto log = getLogger("storage");
  log->info("opening database conninfo=\"{}\"", redactConnectionString(options.conninfo));
  // Connect and migrate on a dedicated connection first, retrying while the database starts.
  auto deadline = Clock::now() + connectTimeout;
  Status last;
  while (true) {
    try {
      pqxx::connection c(options.conninfo);
      last = migrate(c);
      if (last.isOk()) break;
      if (last.code() != StatusCode::kUnavailable) return last;
    } catch (...) {
      last = classifyCurrentException();
      detail::connectionBrokenFlag() = false;
    }
    if (Clock::now() >= deadline) {
      return unavailable("cannot reach PostgreSQL within " +
                         std::to_string(connectTimeout.count()) + "s: " + last.message());
    }
    log->warn("database not ready, retrying error=\"{}\"", last.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }

  auto impl = std::make_unique<Impl>(std::move(options), hub);
  impl->pumpErrors = &prometheus::BuildCounter()
                          .Name("tessera_storage_pump_errors_total")
                          .Help("Errors reading changes for watch streams")
                          .Register(metrics)
                          .Add({});
  impl->notifiesSent = &prometheus::BuildCounter()
                            .Name("tessera_storage_notifies_total")
                            .Help("NOTIFYs sent to tell other server processes about writes")
                            .Register(metrics)
                            .Add({});
  impl->pumpLag = &prometheus::BuildHistogram()
                       .Name("tessera_storage_pump_query_seconds")
                       .Help("Duration of one change-pump query")
                       .Register(metrics)
                       .Add({}, latencyBuckets());
  DbPool::Options po;
  po.conninfo = impl->options.conninfo;
  po.size = impl->options.poolSize;
  po.queueLimit = impl->options.queueLimit;
  auto timeout = impl->options.statementTimeout;
  po.onConnect = [timeout](pqxx::connection& c) { prepareStatements(c, timeout); };
  impl->pool = std::make_unique<DbPool>(std::move(po), metrics);

  Impl* raw = impl.get();
  raw->pumpThread = std::thread([raw] { raw->pumpLoop(); });
  raw->listenThread = std::thread([raw] { raw->listenLoop(); });
  raw->compactThread = std::thread([raw] { raw->compactLoop(); });
  std::unique_ptr<PgStorage> storage(new PgStorage(std::move(impl)));
  if (!hub.waitReady(std::chrono::seconds(30))) {
    return unavailable("the change pump did not start within 30s");
  }
  return storage;
}

void PgStorage::stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  for (auto* t : {&impl_->pumpThread, &impl_->listenThread, &impl_->compactThread}) {
    if (t->joinable()) t->join();
  }
  impl_->pool->stop();
}

Status PgStorage::compactNow(std::chrono::seconds retention) {
  return impl_->pool->runBlocking(
      [this, retention](pqxx::connection& c) -> Status { return impl_->compact(c, retention); });
}

Awaitable<Result<StoredObject>> PgStorage::get(ObjectKey key) {
  auto job = [key = std::move(key)](pqxx::connection& c) -> Result<StoredObject> {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared("get", key.kind, key.ns, key.name);
    if (r.empty()) return notFound(key.name);
    return StoredObject{r[0][0].as<std::int64_t>(), r[0][1].as<std::string>()};
  };
  co_return co_await impl_->pool->run(std::move(job));
}

Awaitable<Result<ListPage>> PgStorage::list(ListQuery q) {
  const auto settleMs = static_cast<int>(impl_->options.settleTimeout.count());
  auto job = [q = std::move(q), settleMs](pqxx::connection& c) -> Result<ListPage> {
    pqxx::nontransaction tx(c);
    // The version this list is a snapshot of. Without one, the settled watermark: every write
    // acknowledged before now is at or below it. It is passed to the query as a parameter
    // (not computed inside it) so that the planner knows how recent it is.
    const std::int64_t at =
        q.atRv > 0 ? q.atRv : tx.exec_prepared1("settle", settleMs)[0].as<std::int64_t>();
    Params p;
    const std::string w = "(" + p.add(std::to_string(at)) + ")::bigint";
    const std::string kind = p.add(q.kind);
    const std::string afterNs = p.add(q.afterNs);
    const std::string afterName = p.add(q.afterName);
    const std::string limit =
        "(" +
        p.add(std::to_string(q.limit == 0 ? (1LL << 40) : static_cast<long long>(q.limit) + 1)) +
        ")::bigint";
    std::string nsLive, nsChanged;
    if (q.ns) {
      const std::string ns = p.add(*q.ns);
      nsLive = " AND o.namespace = " + ns;
      nsChanged = " AND c.namespace = " + ns;
    }
    // live: objects unchanged since W, as they are. old: objects changed after W, as they were
    // at W (the revision before their first change after W), unless they did not exist then.
    // Each branch is ordered and limited on its own, so the live branch walks the primary key
    // from the continue position and stops after one page.
    std::string sql =
        "WITH live AS (SELECT o.namespace, o.name, r.body FROM tessera.objects o"
        " JOIN tessera.revisions r ON r.rv = o.rv WHERE o.kind = " +
        kind + " AND o.rv <= " + w + " AND (o.namespace, o.name) > (" + afterNs + ", " + afterName +
        ")" + nsLive + fieldSql(q.fields, "o", p) + labelSql(q.labels, "r.body", p) +
        " ORDER BY o.namespace, o.name LIMIT " + limit +
        "), firsts AS (SELECT DISTINCT ON (c.namespace, c.name) c.namespace, c.name, c.prev_rv"
        " FROM tessera.revisions c WHERE c.rv > " +
        w + " AND c.kind = " + kind + nsChanged +
        " ORDER BY c.namespace, c.name, c.rv), "
        "old AS (SELECT f.namespace, f.name, p.body FROM firsts f JOIN tessera.revisions p"
        " ON p.rv = f.prev_rv WHERE p.type <> 'DELETED' AND (f.namespace, f.name) > (" +
        afterNs + ", " + afterName + ")" + fieldSql(q.fields, "f", p) +
        labelSql(q.labels, "p.body", p) + " ORDER BY f.namespace, f.name LIMIT " + limit +
        "), page AS (SELECT * FROM live UNION ALL SELECT * FROM old ORDER BY 1, 2 LIMIT " + limit +
        ") SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1, "
        "(SELECT horizon FROM tessera.compaction), page.namespace, page.name, page.body::text "
        "FROM (SELECT 1) one LEFT JOIN page ON true ORDER BY page.namespace, page.name";
    pqxx::result rows = tx.exec_params(sql, pqxx::prepare::make_dynamic_params(p.values()));
    ListPage page;
    page.rv = at;
    const std::int64_t settled = rows[0][0].as<std::int64_t>();
    const std::int64_t horizon = rows[0][1].as<std::int64_t>();
    if (at < horizon) {
      return gone("too old resource version: " + std::to_string(at) + " (history starts at " +
                  std::to_string(horizon) + ")");
    }
    if (at > settled) {
      return Status(StatusCode::kDeadlineExceeded,
                    "Too large resource version: " + std::to_string(at) +
                        ", current: " + std::to_string(settled));
    }
    for (const auto& row : rows) {
      if (row[2].is_null()) continue;
      if (q.limit && page.items.size() == q.limit) {
        page.more = true;
        break;
      }
      page.lastNs = row[2].as<std::string>();
      page.lastName = row[3].as<std::string>();
      page.items.push_back(StoredObject{0, row[4].as<std::string>()});
    }
    return page;
  };
  co_return co_await impl_->pool->run(std::move(job));
}

Awaitable<Result<WriteResult>> PgStorage::write(WriteRequest req) {
  auto job = [&req](pqxx::connection& c) -> Result<WriteResult> {
    const char* op = req.op == WriteOp::kCreate   ? "create"
                     : req.op == WriteOp::kUpdate ? "update"
                                                  : "delete";
    const auto& a = req.audit;
    pqxx::nontransaction tx(c);
    pqxx::result r =
        tx.exec_prepared("write", op, req.key.kind, req.key.ns, req.key.name, req.expectedRv,
                         req.op == WriteOp::kDelete ? std::string("{}") : req.body,
                         req.credentialHash, timestampParam(a.received), a.user, a.role, a.verb,
                         a.resource, a.subresource, a.code, a.requestId, a.sourceIp, a.userAgent);
    const std::string outcome = r[0][0].as<std::string>();
    if (outcome == "exists") return alreadyExists(req.key.name);
    if (outcome == "not_found") return notFound(req.key.name);
    if (outcome == "conflict") return conflict(req.key.name);
    WriteResult w;
    w.object.rv = r[0][1].as<std::int64_t>();
    w.prevRv = r[0][2].is_null() ? 0 : r[0][2].as<std::int64_t>();
    w.object.json = r[0][3].as<std::string>();
    return w;
  };
  auto result = co_await impl_->pool->run(std::move(job));
  if (result.isOk()) {
    impl_->localWrites = true;
    impl_->ring();
  }
  co_return result;
}

Awaitable<Status> PgStorage::recordAudit(AuditRecord a) {
  auto job = [a = std::move(a)](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    tx.exec_prepared("audit", timestampParam(a.received), a.user, a.role, a.verb, a.resource,
                     a.subresource, a.ns, a.name, a.code, a.reason, a.message.substr(0, 1024),
                     a.requestId, a.sourceIp, a.userAgent, a.dryRun);
    return Status::ok();
  };
  co_return co_await impl_->pool->run(std::move(job));
}

Awaitable<Result<AuditPage>> PgStorage::listAudit(AuditQuery q) {
  auto job = [q = std::move(q)](pqxx::connection& c) -> Result<AuditPage> {
    Params p;
    std::string where = "id > (" + p.add(std::to_string(q.afterId)) + ")::bigint";
    for (const auto& r : q.fields.requirements()) {
      std::string col;
      bool numeric = false;
      if (r.field == "metadata.name")
        col = "id", numeric = true;
      else if (r.field == "user.username")
        col = "username";
      else if (r.field == "verb")
        col = "verb";
      else if (r.field == "objectRef.resource")
        col = "resource";
      else if (r.field == "objectRef.namespace")
        col = "namespace";
      else if (r.field == "objectRef.name")
        col = "name";
      else if (r.field == "responseStatus.code")
        col = "code", numeric = true;
      else
        return invalidArgument("field label not supported: " + r.field);
      if (numeric && (r.value.empty() || r.value.size() > 18 ||
                      r.value.find_first_not_of("0123456789") != std::string::npos)) {
        return invalidArgument("field " + r.field + " takes a number, got \"" + r.value + "\"");
      }
      where += " AND " + col + (r.negate ? " <> " : " = ") +
               (numeric ? "(" + p.add(r.value) + ")::bigint" : p.add(r.value));
    }
    if (q.since)
      where += " AND received_at >= " + p.add(formatRfc3339Micro(*q.since)) + "::timestamptz";
    if (q.until)
      where += " AND received_at < " + p.add(formatRfc3339Micro(*q.until)) + "::timestamptz";
    std::string sql =
        std::string("SELECT ") + kAuditListColumns + " FROM tessera.audit WHERE " + where +
        " ORDER BY id LIMIT " +
        std::to_string(q.limit == 0 ? (1LL << 40) : static_cast<long long>(q.limit) + 1);
    pqxx::nontransaction tx(c);
    pqxx::result rows = tx.exec_params(sql, pqxx::prepare::make_dynamic_params(p.values()));
    AuditPage page;
    for (const auto& row : rows) {
      if (q.limit && page.items.size() == q.limit) {
        page.more = true;
        break;
      }
      page.lastId = row[0].as<std::int64_t>();
      page.items.push_back(auditToJson(row));
    }
    return page;
  };
  co_return co_await impl_->pool->run(std::move(job));
}

Awaitable<Result<std::vector<ChangeEvent>>> PgStorage::changesSince(std::int64_t after,
                                                                    std::int64_t upTo,
                                                                    std::size_t limit) {
  auto job = [after, upTo, limit](pqxx::connection& c) -> Result<std::vector<ChangeEvent>> {
    pqxx::nontransaction tx(c);
    pqxx::result rows = tx.exec_prepared("changes", after, upTo, static_cast<long long>(limit));
    std::int64_t horizon = rows[0][0].as<std::int64_t>();
    if (after < horizon) {
      return gone("too old resource version: " + std::to_string(after) + " (history starts at " +
                  std::to_string(horizon) + ")");
    }
    return parseChanges(rows);
  };
  co_return co_await impl_->pool->run(std::move(job));
}

Awaitable<Result<StoredObject>> PgStorage::lookupCredential(std::string hash) {
  auto job = [hash = std::move(hash)](pqxx::connection& c) -> Result<StoredObject> {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared("credential", hash);
    if (r.empty()) return notFound("credential");
    return StoredObject{r[0][0].as<std::int64_t>(), r[0][1].as<std::string>()};
  };
  co_return co_await impl_->pool->run(std::move(job));
}

Awaitable<Status> PgStorage::ping() {
  auto job = [](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    tx.exec1("SELECT 1");
    return Status::ok();
  };
  co_return co_await impl_->pool->run(std::move(job));
}

}  // namespace tessera::apiserver::pg
