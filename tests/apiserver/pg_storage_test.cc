// PgStorage against a real PostgreSQL: versions, ordering, snapshots, audit atomicity,
// compaction, cross-process change delivery, and outages.
#include "apiserver/postgres/pg_storage.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "apiserver/watch_hub.h"
#include "common/logging.h"
#include "tests/support/postgres_instance.h"
#include "tests/support/wait.h"

namespace tessera::apiserver::pg {
namespace {

namespace json = boost::json;
using tessera::testing::sharedPostgres;
using tessera::testing::waitFor;

// Runs awaitables on a private io_context with two threads.
class Runner {
 public:
  Runner() : guard_(ioc_.get_executor()) {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~Runner() {
    guard_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }
  template <typename T>
  T run(Awaitable<T> a) {
    return boost::asio::co_spawn(ioc_, std::move(a), boost::asio::use_future).get();
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

std::string objectJson(const std::string& name, int value) {
  json::object o{
      {"apiVersion", "tessera.io/v1"},
      {"kind", "Cell"},
      {"metadata",
       json::object{{"name", name}, {"labels", json::object{{"v", std::to_string(value % 3)}}}}},
      {"spec", json::object{{"value", value}}}};
  return json::serialize(o);
}

AuditRecord audit(const std::string& verb, int code) {
  AuditRecord a;
  a.received = std::chrono::system_clock::now();
  a.user = "tester";
  a.role = "admin";
  a.verb = verb;
  a.resource = "cells";
  a.code = code;
  return a;
}

WriteRequest createReq(const std::string& name, int value) {
  WriteRequest w;
  w.op = WriteOp::kCreate;
  w.key = ObjectKey("Cell", "", name);
  w.body = objectJson(name, value);
  w.audit = audit("create", 201);
  w.audit.name = name;
  return w;
}

WriteRequest updateReq(const std::string& name, int value, std::int64_t expected) {
  WriteRequest w = createReq(name, value);
  w.op = WriteOp::kUpdate;
  w.expectedRv = expected;
  w.audit = audit("update", 200);
  return w;
}

WriteRequest deleteReq(const std::string& name, std::int64_t expected = 0) {
  WriteRequest w;
  w.op = WriteOp::kDelete;
  w.key = ObjectKey("Cell", "", name);
  w.expectedRv = expected;
  w.audit = audit("delete", 200);
  return w;
}

class PgStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    initLogging(std::getenv("TESSERA_TEST_LOG") ? std::getenv("TESSERA_TEST_LOG") : "warn");
    db_ = sharedPostgres().createDatabase();
    storage_ = open(*hub_);
  }
  void TearDown() override {
    if (storage_) storage_->stop();
  }
  std::unique_ptr<PgStorage> open(WatchHub& hub, PgStorageOptions o = {}) {
    o.conninfo = sharedPostgres().conninfo(db_);
    o.poolSize = 4;
    o.compactInterval = std::chrono::hours(1);
    auto s = PgStorage::open(o, hub, metrics_, std::chrono::seconds(30));
    EXPECT_TRUE(s.isOk()) << s.status().toString();
    return std::move(s).value();
  }
  std::int64_t mustCreate(const std::string& name, int value) {
    auto r = runner_.run(storage_->write(createReq(name, value)));
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return r.isOk() ? r->object.rv : 0;
  }

  prometheus::Registry metrics_;
  std::unique_ptr<WatchHub> hub_ = std::make_unique<WatchHub>(1024, 100000, metrics_);
  std::string db_;
  std::unique_ptr<PgStorage> storage_;
  Runner runner_;
};

TEST_F(PgStorageTest, CreateGetUpdateDeleteWithPreconditions) {
  auto rv1 = mustCreate("c1", 1);
  ASSERT_GT(rv1, 0);
  auto again = runner_.run(storage_->write(createReq("c1", 2)));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);

  auto got = runner_.run(storage_->get(ObjectKey("Cell", "", "c1")));
  ASSERT_TRUE(got.isOk());
  EXPECT_EQ(got->rv, rv1);
  auto body = json::parse(got->json);
  EXPECT_EQ(body.at("metadata").at("resourceVersion").as_string(), std::to_string(rv1));

  auto stale = runner_.run(storage_->write(updateReq("c1", 5, rv1 - 1)));
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);
  auto up = runner_.run(storage_->write(updateReq("c1", 5, rv1)));
  ASSERT_TRUE(up.isOk()) << up.status().toString();
  EXPECT_GT(up->object.rv, rv1);
  EXPECT_EQ(up->prevRv, rv1);

  auto missing = runner_.run(storage_->write(updateReq("nope", 1, 1)));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  auto del = runner_.run(storage_->write(deleteReq("c1", up->object.rv)));
  ASSERT_TRUE(del.isOk());
  EXPECT_GT(del->object.rv, up->object.rv);
  EXPECT_EQ(json::parse(del->object.json).at("spec").at("value").as_int64(), 5);
  EXPECT_EQ(runner_.run(storage_->get(ObjectKey("Cell", "", "c1"))).status().code(),
            StatusCode::kNotFound);
}

TEST_F(PgStorageTest, ConcurrentUpdatesOfOneObjectExactlyOneWins) {
  auto rv = mustCreate("race", 0);
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> ok{0}, conflicts{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i) {
      ts.emplace_back([&, i] {
        auto r = runner_.run(storage_->write(updateReq("race", round * 10 + i, rv)));
        if (r.isOk())
          ++ok;
        else if (r.status().code() == StatusCode::kConflict)
          ++conflicts;
      });
    }
    for (auto& t : ts) t.join();
    ASSERT_EQ(ok.load(), 1) << "round " << round;
    ASSERT_EQ(conflicts.load(), 3);
    rv = runner_.run(storage_->get(ObjectKey("Cell", "", "race")))->rv;
  }
}

// 1,000 writes from 8 concurrent writers while watching: every change arrives exactly once,
// in increasing version order, and a resume from any version replays exactly the rest.
TEST_F(PgStorageTest, WatchDeliversEveryChangeOnceInOrderUnderConcurrentWriters) {
  std::mutex mu;
  std::vector<WatchEventPtr> seen;
  auto sub = hub_->subscribe("Cell", nullptr);
  const std::int64_t start = sub->startRv();

  std::mutex wmu;
  std::map<std::int64_t, std::string> written;  // rv → name
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 125; ++i) {
        std::string name = "w" + std::to_string(w) + "-" + std::to_string(i % 25);
        std::int64_t rv = 0;
        if (i < 25) {
          auto r = runner_.run(storage_->write(createReq(name, i)));
          ASSERT_TRUE(r.isOk()) << r.status().toString();
          rv = r->object.rv;
        } else {
          auto cur = runner_.run(storage_->get(ObjectKey("Cell", "", name)));
          ASSERT_TRUE(cur.isOk());
          auto r = runner_.run(storage_->write(updateReq(name, i, cur->rv)));
          ASSERT_TRUE(r.isOk()) << r.status().toString();
          rv = r->object.rv;
        }
        std::lock_guard lock(wmu);
        written[rv] = name;
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(written.size(), 1000u);

  ASSERT_TRUE(waitFor(
      [&] {
        bool overflowed = false, closed = false;
        auto evs = sub->drain(overflowed, closed);
        EXPECT_FALSE(overflowed);
        seen.insert(seen.end(), evs.begin(), evs.end());
        return seen.size() >= 1000;
      },
      std::chrono::seconds(30)))
      << "saw " << seen.size() << " of 1000 events";
  ASSERT_EQ(seen.size(), 1000u);
  std::int64_t prev = start;
  for (const auto& ev : seen) {
    ASSERT_GT(ev->rv, prev) << "events out of order";
    prev = ev->rv;
    auto it = written.find(ev->rv);
    ASSERT_NE(it, written.end()) << "event for a version nobody wrote: " << ev->rv;
    EXPECT_EQ(it->second, ev->key.name);
  }

  // Resume from the middle: exactly the later changes, in order.
  const std::int64_t middle = seen[499]->rv;
  auto rest = runner_.run(storage_->changesSince(middle, hub_->watermark(), 10000));
  ASSERT_TRUE(rest.isOk()) << rest.status().toString();
  ASSERT_EQ(rest->size(), 500u);
  for (std::size_t i = 0; i < rest->size(); ++i) EXPECT_EQ((*rest)[i].rv, seen[500 + i]->rv);
}

// Pages of a list taken while others write are one consistent snapshot: exactly the state at
// the version of the first page, computed independently from the write log.
TEST_F(PgStorageTest, PaginationIsConsistentUnderConcurrentWrites) {
  struct Write {
    std::string name;
    bool deleted;
  };
  std::mutex mu;
  std::map<std::int64_t, Write> log;
  for (int i = 0; i < 120; ++i) {
    std::string name = "p" + std::to_string(1000 + i);
    log[mustCreate(name, i)] = {name, false};
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      int n = 0;
      while (!stop) {
        int i = (n * 7 + w * 13) % 160;
        std::string name = "p" + std::to_string(1000 + i);
        ++n;
        auto cur = runner_.run(storage_->get(ObjectKey("Cell", "", name)));
        Result<WriteResult> r =
            cur.isOk() ? (n % 3 == 0 ? runner_.run(storage_->write(deleteReq(name, cur->rv)))
                                     : runner_.run(storage_->write(updateReq(name, n, cur->rv))))
                       : runner_.run(storage_->write(createReq(name, n)));
        if (r.isOk()) {
          std::lock_guard lock(mu);
          log[r->object.rv] = {name, cur.isOk() && n % 3 == 0};
        }
      }
    });
  }
  ListQuery q;
  q.kind = "Cell";
  q.limit = 7;
  std::vector<std::string> names;
  std::int64_t snapshot = 0;
  int pages = 0;
  while (true) {
    auto page = runner_.run(storage_->list(q));
    ASSERT_TRUE(page.isOk()) << page.status().toString();
    if (pages == 0) snapshot = page->rv;
    EXPECT_EQ(page->rv, snapshot);
    for (const auto& it : page->items) {
      auto o = json::parse(it.json);
      names.emplace_back(o.at("metadata").at("name").as_string());
      EXPECT_LE(std::stoll(std::string(o.at("metadata").at("resourceVersion").as_string())),
                snapshot);
    }
    ++pages;
    if (!page->more) break;
    q.atRv = page->rv;
    q.afterNs = page->lastNs;
    q.afterName = page->lastName;
  }
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_GT(pages, 10);
  std::map<std::string, bool> expected;  // name → exists at snapshot
  for (const auto& [rv, w] : log) {
    if (rv <= snapshot) expected[w.name] = !w.deleted;
  }
  std::vector<std::string> want;
  for (const auto& [name, exists] : expected) {
    if (exists) want.push_back(name);
  }
  EXPECT_EQ(names, want);
}

TEST_F(PgStorageTest, AuditIsWrittenInTheSameTransactionAsTheChange) {
  auto rv = mustCreate("audited", 1);
  auto rows = sharedPostgres().psql(
      db_, "SELECT code, verb FROM tessera.audit WHERE rv_after = " + std::to_string(rv));
  EXPECT_EQ(rows, "201|create\n");
  // A failing audit insert must roll the change back with it.
  sharedPostgres().psql(db_,
                        "CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                        "IF NEW.username = 'evil' THEN RAISE EXCEPTION 'audit refused'; END IF; "
                        "RETURN NEW; END $$; CREATE TRIGGER fail_audit BEFORE INSERT ON "
                        "tessera.audit FOR EACH ROW EXECUTE FUNCTION fail_audit()");
  WriteRequest w = createReq("unaudited", 1);
  w.audit.user = "evil";
  auto r = runner_.run(storage_->write(w));
  EXPECT_FALSE(r.isOk());
  EXPECT_EQ(runner_.run(storage_->get(ObjectKey("Cell", "", "unaudited"))).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(
      sharedPostgres().psql(db_, "SELECT count(*) FROM tessera.revisions WHERE name = 'unaudited'"),
      "0\n");
  // A refused write (conflict) leaves its own audit row and no revision.
  auto conflict = runner_.run(storage_->write(updateReq("audited", 2, rv + 1000)));
  EXPECT_EQ(conflict.status().code(), StatusCode::kConflict);
  EXPECT_EQ(
      sharedPostgres().psql(
          db_, "SELECT code, reason FROM tessera.audit WHERE verb = 'update' AND name = 'audited'"),
      "409|Conflict\n");
}

TEST_F(PgStorageTest, CompactedHistoryIsGone) {
  auto rv1 = mustCreate("old", 1);
  for (int i = 0; i < 5; ++i) {
    auto cur = runner_.run(storage_->get(ObjectKey("Cell", "", "old")));
    ASSERT_TRUE(runner_.run(storage_->write(updateReq("old", i, cur->rv))).isOk());
  }
  ASSERT_TRUE(waitFor([&] { return hub_->watermark() > rv1; }));
  ASSERT_TRUE(storage_->compactNow(std::chrono::seconds(0)).isOk());
  auto changes = runner_.run(storage_->changesSince(rv1, hub_->watermark(), 100));
  EXPECT_EQ(changes.status().code(), StatusCode::kGone);
  ListQuery q;
  q.kind = "Cell";
  q.atRv = rv1;
  EXPECT_EQ(runner_.run(storage_->list(q)).status().code(), StatusCode::kGone);
  // The live object is intact.
  auto cur = runner_.run(storage_->get(ObjectKey("Cell", "", "old")));
  ASSERT_TRUE(cur.isOk());
  EXPECT_EQ(json::parse(cur->json).at("spec").at("value").as_int64(), 4);
}

TEST_F(PgStorageTest, AnotherServerProcessSeesOurWrites) {
  prometheus::Registry otherMetrics;
  WatchHub otherHub(1024, 10000, otherMetrics);
  PgStorageOptions o;
  o.pollInterval = std::chrono::seconds(60);  // only NOTIFY can wake it in time
  o.conninfo = sharedPostgres().conninfo(db_);
  auto other = PgStorage::open(o, otherHub, otherMetrics, std::chrono::seconds(30));
  ASSERT_TRUE(other.isOk());
  auto sub = otherHub.subscribe("Cell", nullptr);
  auto rv = mustCreate("shared", 1);
  std::vector<WatchEventPtr> got;
  ASSERT_TRUE(waitFor(
      [&] {
        bool ov, cl;
        auto e = sub->drain(ov, cl);
        got.insert(got.end(), e.begin(), e.end());
        return !got.empty();
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(got[0]->rv, rv);
  EXPECT_EQ(got[0]->key.name, "shared");
  (*other)->stop();
}

TEST_F(PgStorageTest, OutageFailsFastAndRecovers) {
  mustCreate("before", 1);
  sharedPostgres().stop();
  auto r = runner_.run(storage_->write(createReq("during", 1)));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().toString();
  auto g = runner_.run(storage_->get(ObjectKey("Cell", "", "before")));
  EXPECT_EQ(g.status().code(), StatusCode::kUnavailable);
  sharedPostgres().startAgain();
  ASSERT_TRUE(
      waitFor([&] { return runner_.run(storage_->ping()).isOk(); }, std::chrono::seconds(20)));
  auto after = runner_.run(storage_->write(createReq("after", 1)));
  EXPECT_TRUE(after.isOk()) << after.status().toString();
  EXPECT_TRUE(runner_.run(storage_->get(ObjectKey("Cell", "", "before"))).isOk());
}

}  // namespace
}  // namespace tessera::apiserver::pg
