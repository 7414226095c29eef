// Watch streams of a real tessera-server: exactly-once, in-order delivery under concurrent
// writers, resume from a version, 410 Gone, initial state, selectors, bookmarks, tables, and
// two server processes on one database.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "tests/apiserver/api_test_util.h"
#include "tests/support/server_instance.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Event {
  std::string type;
  json::value object;
  std::int64_t rv() const { return std::stoll(str(object, {"metadata", "resourceVersion"})); }
  std::string name() const { return str(object, {"metadata", "name"}); }
};

// Reads events until `n` arrived or the deadline passes.
std::vector<Event> readEvents(StreamReader& s, std::size_t n, milliseconds timeout = seconds(30)) {
  std::vector<Event> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= milliseconds(0)) break;
    auto line = s.nextLine(left);
    if (!line) {
      if (s.ended()) break;
      continue;
    }
    auto v = json::parse(*line);
    out.push_back({str(v, {"type"}), v.at("object")});
  }
  return out;
}

class ApiWatchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Without the scheduler: its status writes would be events these tests do not expect.
    server_ = ServerInstance::start(
                  sharedPostgres(),
                  ServerOptions::withArgs({"--bookmark-interval", "1s", "--no-scheduler"}))
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::string listRv(const std::string& path) {
    return str(server_->client().get(path).json(), {"metadata", "resourceVersion"});
  }
  static ServerInstance* server_;
};
ServerInstance* ApiWatchTest::server_ = nullptr;

std::string clusters() {
  return std::string(kApi) + "/clusters";
}

TEST_F(ApiWatchTest, ThousandConcurrentWritesArriveExactlyOnceInOrder) {
  const std::string rv = listRv(clusters());
  StreamReader watch(server_->endpoint(), clusters() + "?watch=true&resourceVersion=" + rv,
                     server_->adminToken());
  ASSERT_EQ(watch.status(), 200) << watch.errorBody();

  std::mutex mu;
  std::map<std::int64_t, std::string> acked;  // rv → "type name"
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      auto c = server_->client();
      for (int i = 0; i < 250; ++i) {
        std::string name = "w" + std::to_string(w) + "-" + std::to_string(i % 50);
        HttpResult r;
        std::string type;
        if (i < 50) {
          r = c.post(clusters(), clusterJson(name));
          type = "ADDED";
        } else if (i < 200) {
          r = c.mergePatch(clusters() + "/" + name,
                           R"({"spec":{"capacity":{"pods":)" + std::to_string(i) + "}}}");
          type = "MODIFIED";
        } else {
          r = c.del(clusters() + "/" + name);
          type = "DELETED";
        }
        ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body;
        std::lock_guard lock(mu);
        acked[std::stoll(str(r.json(), {"metadata", "resourceVersion"}))] = type + " " + name;
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(acked.size(), 1000u);

  auto events = readEvents(watch, 1000);
  ASSERT_EQ(events.size(), 1000u);
  std::int64_t prev = std::stoll(rv);
  for (const auto& e : events) {
    ASSERT_GT(e.rv(), prev) << "out of order or duplicate";
    prev = e.rv();
    auto it = acked.find(e.rv());
    ASSERT_NE(it, acked.end()) << "event for a version nobody wrote";
    EXPECT_EQ(it->second, e.type + " " + e.name());
  }
  // Nothing more arrives.
  EXPECT_FALSE(watch.nextLine(milliseconds(300)).has_value());

  // Resuming from the middle replays exactly the second half.
  StreamReader resumed(
      server_->endpoint(),
      clusters() + "?watch=true&resourceVersion=" + std::to_string(events[499].rv()),
      server_->adminToken());
  ASSERT_EQ(resumed.status(), 200);
  auto rest = readEvents(resumed, 500);
  ASSERT_EQ(rest.size(), 500u);
  for (std::size_t i = 0; i < rest.size(); ++i) EXPECT_EQ(rest[i].rv(), events[500 + i].rv());
}

TEST_F(ApiWatchTest, WithoutResourceVersionTheCurrentStateComesFirst) {
  auto c = server_->client();
  std::string path = std::string(kApi) + "/namespaces/init/applications";
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(c.post(path, appJson("init", "app-" + std::to_string(i))).status, 201);
  StreamReader w(server_->endpoint(), path + "?watch=1", server_->adminToken());
  ASSERT_EQ(w.status(), 200);
  auto initial = readEvents(w, 3);
  ASSERT_EQ(initial.size(), 3u);
  for (const auto& e : initial) EXPECT_EQ(e.type, "ADDED");
  ASSERT_EQ(c.post(path, appJson("init", "app-3")).status, 201);
  auto next = readEvents(w, 1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].name(), "app-3");
  // Another namespace's objects never show up on this watch.
  ASSERT_EQ(
      c.post(std::string(kApi) + "/namespaces/other/applications", appJson("other", "x")).status,
      201);
  EXPECT_FALSE(w.nextLine(milliseconds(300)).has_value());
}

TEST_F(ApiWatchTest, LabelSelectorTurnsLabelChangesIntoAddedAndDeleted) {
  auto c = server_->client();
  std::string cells = std::string(kApi) + "/cells";
  const std::string rv = listRv(cells);
  StreamReader w(server_->endpoint(),
                 cells + "?watch=true&labelSelector=tier%3Dweb&resourceVersion=" + rv,
                 server_->adminToken());
  ASSERT_EQ(c.post(cells, cellJson("lbl-1", "region-1", R"({"tier":"web"})")).status, 201);
  ASSERT_EQ(c.post(cells, cellJson("lbl-2", "region-1", R"({"tier":"db"})")).status, 201);
  ASSERT_EQ(c.mergePatch(cells + "/lbl-1", R"({"metadata":{"labels":{"tier":"db"}}})").status, 200);
  ASSERT_EQ(c.mergePatch(cells + "/lbl-2", R"({"metadata":{"labels":{"tier":"web"}}})").status,
            200);
  ASSERT_EQ(c.mergePatch(cells + "/lbl-2", R"({"spec":{"region":"region-2"}})").status, 200);
  ASSERT_EQ(c.del(cells + "/lbl-2").status, 200);
  auto ev = readEvents(w, 5);
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[0].type + " " + ev[0].name(), "ADDED lbl-1");
  EXPECT_EQ(ev[1].type + " " + ev[1].name(), "DELETED lbl-1");
  EXPECT_EQ(ev[2].type + " " + ev[2].name(), "ADDED lbl-2");
  EXPECT_EQ(ev[3].type + " " + ev[3].name(), "MODIFIED lbl-2");
  EXPECT_EQ(ev[4].type + " " + ev[4].name(), "DELETED lbl-2");
}

TEST_F(ApiWatchTest, SingleObjectWatchBookmarksAndTimeout) {
  auto c = server_->client();
  ASSERT_EQ(c.post(clusters(), clusterJson("one-1")).status, 201);
  ASSERT_EQ(c.post(clusters(), clusterJson("one-2")).status, 201);
  const std::string rv = listRv(clusters());
  StreamReader w(
      server_->endpoint(),
      clusters() +
          "/one-1?watch=true&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion=" + rv,
      server_->adminToken());
  ASSERT_EQ(c.mergePatch(clusters() + "/one-2", R"({"spec":{"zone":"dc-b"}})").status, 200);
  ASSERT_EQ(c.mergePatch(clusters() + "/one-1", R"({"spec":{"zone":"dc-c"}})").status, 200);
  auto ev = readEvents(w, 2, seconds(10));
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type + " " + ev[0].name(), "MODIFIED one-1");
  EXPECT_EQ(ev[1].type, "BOOKMARK");
  EXPECT_GE(ev[1].rv(), ev[0].rv());
  // The server ends the stream cleanly at timeoutSeconds.
  while (w.nextLine(seconds(10))) {
  }
  EXPECT_TRUE(w.ended());
}

TEST_F(ApiWatchTest, TableWatchCarriesRows) {
  const std::string rv = listRv(clusters());
  StreamReader w(server_->endpoint(), clusters() + "?watch=true&resourceVersion=" + rv,
                 server_->adminToken(),
                 {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}});
  ASSERT_EQ(server_->client().post(clusters(), clusterJson("table-1", "dc-b")).status, 201);
  auto ev = readEvents(w, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(str(ev[0].object, {"kind"}), "Table");
  std::string row = json::serialize(ev[0].object.at("rows").at(0).at("cells"));
  EXPECT_NE(row.find("\"table-1\""), std::string::npos) << row;
  EXPECT_NE(row.find("\"dc-b\""), std::string::npos) << row;
}

TEST_F(ApiWatchTest, BadWatchRequests) {
  auto c = server_->client();
  EXPECT_EQ(c.get(clusters() + "?watch=true&resourceVersion=abc").status, 400);
  EXPECT_EQ(c.get(std::string(kApi) + "/auditevents?watch=true").status, 405);
  HttpClient anon(server_->endpoint());
  EXPECT_EQ(anon.get(clusters() + "?watch=true").status, 401);
}

// Watch streams over TLS that end either way — the client vanishing mid-stream, or the server
// ending them at timeoutSeconds while the client still holds the connection — leave the server
// serving. A stream's background read must be finished before its connection is freed.
TEST(ApiWatchTlsTest, StreamsEndingEitherWayLeaveTheServerServing) {
  ServerOptions o;
  o.tls = true;
  o.extraArgs = {"--no-scheduler"};
  auto server = ServerInstance::start(sharedPostgres(), o);
  auto c = server->client();
  ASSERT_EQ(c.post(clusters(), clusterJson("tls-1")).status, 201);
  for (int round = 0; round < 5; ++round) {
    std::vector<std::unique_ptr<StreamReader>> vanishing, timingOut;
    for (int i = 0; i < 4; ++i) {
      vanishing.push_back(std::make_unique<StreamReader>(
          server->endpoint(), clusters() + "?watch=true", server->adminToken()));
      timingOut.push_back(std::make_unique<StreamReader>(
          server->endpoint(), clusters() + "?watch=true&timeoutSeconds=1", server->adminToken()));
    }
    for (auto& w : vanishing) {
      ASSERT_EQ(w->status(), 200);
      ASSERT_TRUE(w->nextLine(seconds(10)).has_value());  // the initial ADDED: mid-stream now
      w->close();
    }
    for (auto& w : timingOut) {
      ASSERT_EQ(w->status(), 200);
      while (w->nextLine(seconds(10))) {
      }
      EXPECT_TRUE(w->endedCleanly());
    }
    // The timed-out streams' connections are still open on our side here: the server has
    // ended and freed its side of them. It must still answer (and still run).
    ASSERT_EQ(c.mergePatch(clusters() + "/tls-1", R"({"metadata":{"labels":{"round":")" +
                                                      std::to_string(round) + R"("}}})")
                  .status,
              200);
    ASSERT_TRUE(server->process().running());
  }
  EXPECT_EQ(c.get(clusters() + "/tls-1").status, 200);
  EXPECT_TRUE(server->process().running());
}

// History older than the retention is gone: resuming from before it is 410 Expired.
TEST(ApiWatchRetentionTest, ResumingFromCompactedHistoryIs410) {
  auto server = ServerInstance::start(
      sharedPostgres(), ServerOptions::withArgs({"--history-retention", "1s", "--compact-interval",
                                                 "1s", "--watch-cache-events", "1"}));
  auto c = server->client();
  auto first = c.post(clusters(), clusterJson("ret-1"));
  ASSERT_EQ(first.status, 201);
  std::string oldRv = str(first.json(), {"metadata", "resourceVersion"});
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c.mergePatch(clusters() + "/ret-1",
                           R"({"spec":{"zone":"dc-)" + std::string(1, 'a' + i) + R"("}})")
                  .status,
              200);
  }
  HttpResult r;
  ASSERT_TRUE(waitFor(
      [&] {
        r = c.get(clusters() + "?watch=true&timeoutSeconds=1&resourceVersion=" + oldRv);
        return r.status == 410;
      },
      seconds(20)))
      << r.status << " " << r.body;
  EXPECT_EQ(str(r.json(), {"reason"}), "Expired");
  // The current state is still there, and a fresh list + watch works.
  EXPECT_EQ(str(c.get(clusters() + "/ret-1").json(), {"spec", "zone"}), "dc-c");
}

// Two server processes on one database see each other's writes on their watches.
TEST(ApiWatchTwoServersTest, WritesThroughOneServerReachWatchesOnTheOther) {
  auto a = ServerInstance::start(sharedPostgres());
  auto b = ServerInstance::start(sharedPostgres(), ServerOptions::onDatabase(a->database()));
  std::string rv = str(b->client().get(clusters()).json(), {"metadata", "resourceVersion"});
  StreamReader w(b->endpoint(), clusters() + "?watch=true&resourceVersion=" + rv, b->adminToken());
  ASSERT_EQ(w.status(), 200);
  auto created = a->client().post(clusters(), clusterJson("via-a"));
  ASSERT_EQ(created.status, 201);
  auto ev = readEvents(w, 1, seconds(10));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].name(), "via-a");
  EXPECT_EQ(str(ev[0].object, {"metadata", "resourceVersion"}),
            str(created.json(), {"metadata", "resourceVersion"}));
  // Tokens minted through one server work on the other.
  std::string token = a->createToken("ops", "operator");
  EXPECT_EQ(b->client(token).get(clusters()).status, 200);
}

}  // namespace
}  // namespace tessera::testing
