// The REST API of a real tessera-server process over HTTP: verbs, validation, concurrency,
// the status subresource, selectors, pagination, tokens, audit and the operational endpoints.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>

#include "tests/apiserver/api_test_util.h"
#include "tests/support/server_instance.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

namespace json = boost::json;

class ApiCrudTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = ServerInstance::start(sharedPostgres()).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  HttpClient admin() { return server_->client(); }
  static ServerInstance* server_;
};
ServerInstance* ApiCrudTest::server_ = nullptr;

std::string cells() {
  return std::string(kApi) + "/cells";
}

// Creates a cell and returns it once the scheduler has written its phase (waitForCellPhase): a
// test that races or preconditions on a version needs no other writer on the object.
json::value createSettledCell(HttpClient& c, const std::string& name) {
  auto created = c.post(cells(), cellJson(name));
  EXPECT_EQ(created.status, 201) << created.body;
  json::value cell;
  EXPECT_TRUE(waitForCellPhase(c, name, cell)) << json::serialize(cell);
  return cell;
}

TEST_F(ApiCrudTest, CreateGetListDelete) {
  auto c = admin();
  auto created = c.post(cells(), cellJson("crud-1"));
  ASSERT_EQ(created.status, 201) << created.body;
  auto o = created.json();
  EXPECT_EQ(str(o, {"metadata", "name"}), "crud-1");
  EXPECT_FALSE(str(o, {"metadata", "uid"}).empty());
  EXPECT_FALSE(str(o, {"metadata", "resourceVersion"}).empty());
  EXPECT_EQ(str(o, {"metadata", "generation"}), "1");
  EXPECT_FALSE(str(o, {"metadata", "creationTimestamp"}).empty());

  auto got = c.get(cells() + "/crud-1");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), o);

  auto list = c.get(cells());
  ASSERT_EQ(list.status, 200);
  auto l = list.json();
  EXPECT_EQ(str(l, {"kind"}), "CellList");
  EXPECT_FALSE(str(l, {"metadata", "resourceVersion"}).empty());
  bool found = false;
  for (const auto& it : l.at("items").as_array())
    found |= str(it, {"metadata", "name"}) == "crud-1";
  EXPECT_TRUE(found);

  auto del = c.del(cells() + "/crud-1", R"({"propagationPolicy":"Background"})");
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(str(del.json(), {"metadata", "name"}), "crud-1");
  auto gone = c.get(cells() + "/crud-1");
  ASSERT_EQ(gone.status, 404);
  auto s = gone.json();
  EXPECT_EQ(str(s, {"kind"}), "Status");
  EXPECT_EQ(str(s, {"reason"}), "NotFound");
  EXPECT_EQ(str(s, {"details", "name"}), "crud-1");
  EXPECT_EQ(str(s, {"details", "kind"}), "cells");
  EXPECT_EQ(str(s, {"message"}), "cells.tessera.io \"crud-1\" not found");

  auto dup1 = c.post(cells(), cellJson("crud-dup"));
  ASSERT_EQ(dup1.status, 201);
  auto dup2 = c.post(cells(), cellJson("crud-dup"));
  EXPECT_EQ(dup2.status, 409);
  EXPECT_EQ(str(dup2.json(), {"reason"}), "AlreadyExists");
}

TEST_F(ApiCrudTest, NamespacedApplications) {
  auto c = admin();
  std::string base = std::string(kApi) + "/namespaces/payments/applications";
  auto r = c.post(base, appJson("payments", "pay"));
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(
      c.post(std::string(kApi) + "/namespaces/risk/applications", appJson("risk", "score")).status,
      201);
  auto mismatch = c.post(base, appJson("risk", "other"));
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_NE(mismatch.body.find("does not match the namespace"), std::string::npos);
  EXPECT_EQ(c.post(std::string(kApi) + "/applications", appJson("payments", "x")).status, 404);

  auto inNs = c.get(base).json();
  ASSERT_EQ(inNs.at("items").as_array().size(), 1u);
  auto all = c.get(std::string(kApi) + "/applications").json();
  EXPECT_GE(all.at("items").as_array().size(), 2u);
  EXPECT_EQ(c.get(std::string(kApi) + "/namespaces/risk/applications/pay").status, 404);
  EXPECT_EQ(c.get(std::string(kApi) + "/namespaces/Bad_NS/applications").status, 400);
  EXPECT_EQ(c.get(std::string(kApi) + "/namespaces/payments/cells").status, 404);
}

TEST_F(ApiCrudTest, UpdateNeedsTheCurrentResourceVersion) {
  auto c = admin();
  auto o = createSettledCell(c, "upd-1");
  std::string rv = str(o, {"metadata", "resourceVersion"});

  auto body = o;
  body.as_object()["metadata"].as_object().erase("resourceVersion");
  body.as_object()["spec"].as_object()["region"] = "region-2";
  auto noRv = c.put(cells() + "/upd-1", json::serialize(body));
  EXPECT_EQ(noRv.status, 422) << noRv.body;
  EXPECT_EQ(
      str(noRv.json(), {"details", "causes"}).find("metadata.resourceVersion") != std::string::npos,
      true);

  body.as_object()["metadata"].as_object()["resourceVersion"] = std::to_string(std::stoll(rv) - 1);
  auto stale = c.put(cells() + "/upd-1", json::serialize(body));
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(str(stale.json(), {"reason"}), "Conflict");

  body.as_object()["metadata"].as_object()["resourceVersion"] = rv;
  auto ok = c.put(cells() + "/upd-1", json::serialize(body));
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto updated = ok.json();
  EXPECT_NE(str(updated, {"metadata", "resourceVersion"}), rv);
  EXPECT_EQ(str(updated, {"metadata", "generation"}), "2");
  EXPECT_EQ(str(updated, {"spec", "region"}), "region-2");
  EXPECT_EQ(str(updated, {"metadata", "uid"}), str(o, {"metadata", "uid"}));

  // A label-only change bumps the version, not the generation.
  updated.as_object()["metadata"].as_object()["labels"] = json::object{{"tier", "gold"}};
  auto labelled = c.put(cells() + "/upd-1", json::serialize(updated));
  ASSERT_EQ(labelled.status, 200);
  EXPECT_EQ(str(labelled.json(), {"metadata", "generation"}), "2");
  EXPECT_EQ(str(labelled.json(), {"metadata", "labels", "tier"}), "gold");

  auto wrongName = c.put(cells() + "/other", json::serialize(labelled.json()));
  EXPECT_EQ(wrongName.status, 400);
}

TEST_F(ApiCrudTest, TwoConcurrentUpdatesGiveExactlyOneConflict) {
  auto c = admin();
  auto o = createSettledCell(c, "race-1");
  for (int round = 0; round < 10; ++round) {
    std::atomic<int> ok{0}, conflict{0};
    std::array<std::string, 2> answers;  // status and body of each, for a failure message
    std::vector<std::thread> ts;
    for (int i = 0; i < 2; ++i) {
      ts.emplace_back([&, i] {
        auto body = o;
        body.as_object()["spec"].as_object()["region"] = "r" + std::to_string(round * 2 + i);
        auto r = admin().put(cells() + "/race-1", json::serialize(body));
        answers[static_cast<size_t>(i)] = std::to_string(r.status) + " " + r.body;
        if (r.status == 200) ++ok;
        if (r.status == 409) ++conflict;
      });
    }
    for (auto& t : ts) t.join();
    const std::string what =
        "round " + std::to_string(round) + ": " + answers[0] + " | " + answers[1];
    ASSERT_EQ(ok.load(), 1) << what;
    ASSERT_EQ(conflict.load(), 1) << what;
    o = admin().get(cells() + "/race-1").json();
  }
}

TEST_F(ApiCrudTest, MergeAndJsonPatch) {
  auto c = admin();
  ASSERT_EQ(c.post(cells(), cellJson("patch-1", "region-1", R"({"a":"1","b":"2"})")).status, 201);
  auto p1 = c.mergePatch(cells() + "/patch-1",
                         R"({"metadata":{"labels":{"a":null,"c":"3"}},"spec":{"standby":"rz-x"}})");
  ASSERT_EQ(p1.status, 200) << p1.body;
  auto o = p1.json();
  EXPECT_EQ(str(o, {"metadata", "labels"}), R"({"b":"2","c":"3"})");
  EXPECT_EQ(str(o, {"spec", "standby"}), "rz-x");
  EXPECT_EQ(str(o, {"metadata", "generation"}), "2");

  auto jp = c.request(
      "PATCH", cells() + "/patch-1",
      R"([{"op":"test","path":"/spec/region","value":"region-1"},{"op":"replace","path":"/spec/region","value":"region-9"}])",
      {{"Content-Type", "application/json-patch+json"}});
  ASSERT_EQ(jp.status, 200) << jp.body;
  EXPECT_EQ(str(jp.json(), {"spec", "region"}), "region-9");
  auto failedTest = c.request("PATCH", cells() + "/patch-1",
                              R"([{"op":"test","path":"/spec/region","value":"nope"}])",
                              {{"Content-Type", "application/json-patch+json"}});
  EXPECT_EQ(failedTest.status, 422);
  auto smp = c.request("PATCH", cells() + "/patch-1", "{}",
                       {{"Content-Type", "application/strategic-merge-patch+json"}});
  EXPECT_EQ(smp.status, 415);
  EXPECT_NE(smp.body.find("--type=merge"), std::string::npos);
  // A patch that makes the object invalid is refused whole.
  auto bad = c.mergePatch(cells() + "/patch-1", R"({"spec":{"type":"Nowhere"}})");
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(str(c.get(cells() + "/patch-1").json(), {"spec", "type"}), "RZone");
  // A resourceVersion in the patch is a precondition.
  auto pre = c.mergePatch(cells() + "/patch-1",
                          R"({"metadata":{"resourceVersion":"1"},"spec":{"region":"x"}})");
  EXPECT_EQ(pre.status, 409);
  EXPECT_EQ(c.mergePatch(cells() + "/nope", "{}").status, 404);
}

TEST_F(ApiCrudTest, StatusSubresourceIsWrittenSeparately) {
  auto c = admin();
  auto o = createSettledCell(c, "status-1");
  ASSERT_EQ(str(o, {"status", "phase"}), "Active");
  // Down and Draining are phases the scheduler keeps: no write of its own races the ones below.
  auto withStatus = o;
  withStatus.as_object()["status"] = json::object{{"phase", "Down"}};
  withStatus.as_object()["spec"].as_object()["region"] = "ignored-by-status";
  auto st = c.put(cells() + "/status-1/status", json::serialize(withStatus));
  ASSERT_EQ(st.status, 200) << st.body;
  auto after = st.json();
  EXPECT_EQ(str(after, {"status", "phase"}), "Down");
  EXPECT_EQ(str(after, {"spec", "region"}), "region-1");
  EXPECT_EQ(str(after, {"metadata", "generation"}), "1");
  EXPECT_NE(str(after, {"metadata", "resourceVersion"}), str(o, {"metadata", "resourceVersion"}));

  // The main resource ignores status.
  auto main = after;
  main.as_object()["status"] = json::object{{"phase", "Active"}};
  main.as_object()["spec"].as_object()["region"] = "region-3";
  auto m = c.put(cells() + "/status-1", json::serialize(main));
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(str(m.json(), {"status", "phase"}), "Down");
  EXPECT_EQ(str(m.json(), {"metadata", "generation"}), "2");

  auto badStatus = c.mergePatch(cells() + "/status-1/status", R"({"status":{"phase":"Sleeping"}})");
  EXPECT_EQ(badStatus.status, 422);
  auto patched = c.mergePatch(cells() + "/status-1/status", R"({"status":{"phase":"Draining"}})");
  ASSERT_EQ(patched.status, 200);
  EXPECT_EQ(str(patched.json(), {"status", "phase"}), "Draining");
  EXPECT_EQ(c.get(std::string(kApi) + "/apitokens/x/status").status, 404);
}

TEST_F(ApiCrudTest, BadInputIsRefusedWithReasonsAndNothingIsWritten) {
  auto c = admin();
  auto malformed = c.post(cells(), R"({"apiVersion":)");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(str(malformed.json(), {"kind"}), "Status");

  auto unknown = c.post(
      cells(),
      R"({"apiVersion":"tessera.io/v1","kind":"Cell","metadata":{"name":"bad-1"},"spec":{"type":"RZone","region":"r","colour":"red"}})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("unknown field \\\"spec.colour\\\""), std::string::npos)
      << unknown.body;
  EXPECT_EQ(str(unknown.json().at("details").at("causes").at(0), {"field"}), "spec.colour");
  EXPECT_EQ(c.get(cells() + "/bad-1").status, 404);

  auto ignored = c.post(
      cells() + "?fieldValidation=Ignore",
      R"({"apiVersion":"tessera.io/v1","kind":"Cell","metadata":{"name":"lax-1"},"spec":{"type":"RZone","region":"r","colour":"red"}})");
  ASSERT_EQ(ignored.status, 201);
  EXPECT_EQ(str(ignored.json(), {"spec", "colour"}), "");
  auto warned = c.post(
      cells() + "?fieldValidation=Warn",
      R"({"apiVersion":"tessera.io/v1","kind":"Cell","metadata":{"name":"lax-2"},"spec":{"type":"RZone","region":"r","colour":"red"}})");
  ASSERT_EQ(warned.status, 201);
  EXPECT_NE(warned.header("warning").find("spec.colour"), std::string::npos);

  auto wrongVersion = c.post(
      cells(),
      R"({"apiVersion":"tessera.io/v2","kind":"Cell","metadata":{"name":"bad-2"},"spec":{}})");
  EXPECT_EQ(wrongVersion.status, 400);
  auto wrongKind = c.post(
      cells(),
      R"({"apiVersion":"tessera.io/v1","kind":"Cluster","metadata":{"name":"bad-3"},"spec":{}})");
  EXPECT_EQ(wrongKind.status, 400);

  auto badName = c.post(cells(), cellJson("Bad_Name"));
  EXPECT_EQ(badName.status, 422);
  EXPECT_EQ(str(badName.json().at("details").at("causes").at(0), {"field"}), "metadata.name");

  auto missing = c.post(
      std::string(kApi) + "/clusters",
      R"({"apiVersion":"tessera.io/v1","kind":"Cluster","metadata":{"name":"c-bad"},"spec":{"zone":"dc-a"}})");
  EXPECT_EQ(missing.status, 422);
  EXPECT_EQ(str(missing.json(), {"reason"}), "Invalid");
  EXPECT_EQ(str(missing.json().at("details").at("causes").at(0), {"field"}), "spec.region");
  EXPECT_EQ(str(missing.json().at("details").at("causes").at(0), {"reason"}), "FieldValueRequired");

  auto badApp = c.post(
      std::string(kApi) + "/namespaces/p/applications",
      R"({"apiVersion":"tessera.io/v1","kind":"Application","metadata":{"name":"a"},"spec":{"template":{"command":[],"ports":[{"name":"http","port":70000}]},"placement":{"cells":{"names":["a"],"type":"RZone"}}}})");
  EXPECT_EQ(badApp.status, 422);
  std::string causes = str(badApp.json(), {"details", "causes"});
  EXPECT_NE(causes.find("spec.template.command"), std::string::npos) << causes;
  EXPECT_NE(causes.find("spec.template.ports[0].port"), std::string::npos);
  EXPECT_NE(causes.find("spec.placement.cells"), std::string::npos);

  EXPECT_EQ(c.request("POST", cells(), "a: b", {{"Content-Type", "application/yaml"}}).status, 415);
  EXPECT_EQ(c.post(cells() + "?fieldValidation=Sometimes", cellJson("x")).status, 400);
  EXPECT_EQ(c.get(cells() + "?labelSelector=a%20in%20(").status, 400);
  EXPECT_EQ(c.get(cells() + "?fieldSelector=spec.region%3Dx").status, 400);
  EXPECT_EQ(c.get(cells() + "?continue=garbage").status, 400);
}

TEST_F(ApiCrudTest, DryRunWritesNothing) {
  auto c = admin();
  auto r = c.post(cells() + "?dryRun=All", cellJson("dry-1"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(str(r.json(), {"metadata", "name"}), "dry-1");
  EXPECT_EQ(c.get(cells() + "/dry-1").status, 404);
  ASSERT_EQ(c.post(cells(), cellJson("dry-2")).status, 201);
  EXPECT_EQ(c.del(cells() + "/dry-2?dryRun=All").status, 200);
  EXPECT_EQ(c.get(cells() + "/dry-2").status, 200);
}

TEST_F(ApiCrudTest, GenerateNameAndDeletePreconditions) {
  auto c = admin();
  auto r = c.post(
      cells(),
      R"({"apiVersion":"tessera.io/v1","kind":"Cell","metadata":{"generateName":"gen-"},"spec":{"type":"GZone","region":"r"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  std::string name = str(r.json(), {"metadata", "name"});
  EXPECT_EQ(name.rfind("gen-", 0), 0u);
  EXPECT_EQ(name.size(), 9u);
  auto wrongUid = c.del(cells() + "/" + name, R"({"preconditions":{"uid":"not-it"}})");
  EXPECT_EQ(wrongUid.status, 409);
  EXPECT_NE(wrongUid.body.find("Precondition failed"), std::string::npos);
  auto staleRv = c.del(cells() + "/" + name, R"({"preconditions":{"resourceVersion":"1"}})");
  EXPECT_EQ(staleRv.status, 409);
  auto ok = c.del(cells() + "/" + name,
                  R"({"preconditions":{"uid":")" + str(r.json(), {"metadata", "uid"}) + R"("}})");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(c.del(cells() + "/" + name).status, 404);
}

TEST_F(ApiCrudTest, SelectorsAndPagination) {
  auto c = admin();
  for (int i = 0; i < 9; ++i) {
    std::string labels =
        R"({"sel":"yes","tier":")" + std::string(i % 3 == 0 ? "gold" : "silver") + R"("})";
    ASSERT_EQ(c.post(cells(), cellJson("sel-" + std::to_string(i), "region-1", labels)).status,
              201);
  }
  auto gold = c.get(cells() + "?labelSelector=sel%3Dyes,tier%3Dgold").json();
  EXPECT_EQ(gold.at("items").as_array().size(), 3u);
  auto notGold = c.get(cells() + "?labelSelector=sel,tier%20notin%20(gold)").json();
  EXPECT_EQ(notGold.at("items").as_array().size(), 6u);
  auto byName = c.get(cells() + "?fieldSelector=metadata.name%3Dsel-4").json();
  ASSERT_EQ(byName.at("items").as_array().size(), 1u);

  std::vector<std::string> names;
  std::string next = cells() + "?labelSelector=sel%3Dyes&limit=4";
  std::string rv;
  int pages = 0;
  while (true) {
    auto page = c.get(next);
    ASSERT_EQ(page.status, 200) << page.body;
    auto p = page.json();
    if (rv.empty()) rv = str(p, {"metadata", "resourceVersion"});
    EXPECT_EQ(str(p, {"metadata", "resourceVersion"}), rv);
    for (const auto& it : p.at("items").as_array()) names.push_back(str(it, {"metadata", "name"}));
    ++pages;
    // A write between pages does not show up in later pages of the same list.
    if (pages == 1) {
      ASSERT_EQ(c.post(cells(), cellJson("sel-99", "region-1", R"({"sel":"yes"})")).status, 201);
    }
    std::string cont = str(p, {"metadata", "continue"});
    if (cont.empty()) break;
    next = cells() + "?labelSelector=sel%3Dyes&limit=4&continue=" + cont;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names.size(), 9u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::find(names.begin(), names.end(), "sel-99"), names.end());
}

TEST_F(ApiCrudTest, ListAtAnExactVersion) {
  auto c = admin();
  auto created = c.post(cells(), cellJson("exact-1", "region-1"));
  ASSERT_EQ(created.status, 201);
  std::string rv = str(created.json(), {"metadata", "resourceVersion"});
  ASSERT_EQ(c.mergePatch(cells() + "/exact-1", R"({"spec":{"region":"region-2"}})").status, 200);
  ASSERT_EQ(c.del(cells() + "/exact-1").status, 200);
  auto then = c.get(cells() + "?resourceVersion=" + rv +
                    "&resourceVersionMatch=Exact&fieldSelector=metadata.name%3Dexact-1");
  ASSERT_EQ(then.status, 200) << then.body;
  auto items = then.json().at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(str(items[0], {"spec", "region"}), "region-1");
  EXPECT_EQ(str(then.json(), {"metadata", "resourceVersion"}), rv);
  auto now = c.get(cells() + "?fieldSelector=metadata.name%3Dexact-1").json();
  EXPECT_TRUE(now.at("items").as_array().empty());
  auto future = c.get(cells() + "?resourceVersion=999999999999&resourceVersionMatch=Exact");
  EXPECT_EQ(future.status, 504);
  EXPECT_NE(future.body.find("ResourceVersionTooLarge"), std::string::npos) << future.body;
  EXPECT_EQ(c.get(cells() + "?resourceVersionMatch=Sometimes").status, 400);
}

TEST_F(ApiCrudTest, TokensAreShownOnceAndRevokedByDelete) {
  auto c = admin();
  auto r = c.post(
      std::string(kApi) + "/apitokens",
      R"({"apiVersion":"tessera.io/v1","kind":"APIToken","metadata":{"name":"ci-bot"},"spec":{"user":"ci-bot","role":"viewer"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  std::string secret = str(r.json(), {"status", "token"});
  ASSERT_EQ(secret.rfind("tsr_", 0), 0u);
  auto got = c.get(std::string(kApi) + "/apitokens/ci-bot");
  EXPECT_EQ(got.body.find(secret), std::string::npos);
  EXPECT_EQ(str(got.json(), {"status", "token"}), "");
  auto asBot = server_->client(secret);
  EXPECT_EQ(asBot.get(cells()).status, 200);
  ASSERT_EQ(c.del(std::string(kApi) + "/apitokens/ci-bot").status, 200);
  EXPECT_TRUE(waitFor([&] { return asBot.get(cells()).status == 401; }, std::chrono::seconds(10)));
  // The secret never reaches the log.
  EXPECT_EQ(readFile(server_->logPath()).find(secret), std::string::npos);
  EXPECT_EQ(readFile(server_->logPath()).find(server_->adminToken()), std::string::npos);
}

TEST_F(ApiCrudTest, EveryChangeIsAuditedAndQueryable) {
  auto c = admin();
  auto created = c.post(cells(), cellJson("audited-1")).json();
  ASSERT_EQ(c.del(cells() + "/audited-1").status, 200);
  auto r = c.get(std::string(kApi) + "/auditevents?fieldSelector=objectRef.name%3Daudited-1");
  ASSERT_EQ(r.status, 200) << r.body;
  auto items = r.json().at("items").as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(str(items[0], {"verb"}), "create");
  EXPECT_EQ(str(items[0], {"user", "username"}), "admin");
  EXPECT_EQ(str(items[0], {"responseStatus", "code"}), "201");
  EXPECT_EQ(str(items[0], {"resourceVersionAfter"}), str(created, {"metadata", "resourceVersion"}));
  EXPECT_EQ(str(items[1], {"verb"}), "delete");
  EXPECT_EQ(str(items[1], {"resourceVersionBefore"}),
            str(created, {"metadata", "resourceVersion"}));
  // Refused writes are audited too.
  EXPECT_EQ(c.post(cells(), cellJson("audited-1!")).status, 422);
  auto refused =
      c.get(std::string(kApi) +
            "/auditevents?fieldSelector=responseStatus.code%3D422,objectRef.resource%3Dcells")
          .json();
  EXPECT_FALSE(refused.at("items").as_array().empty());
  // Time filters.
  auto future = c.get(std::string(kApi) + "/auditevents?since=2200-01-01T00:00:00Z").json();
  EXPECT_TRUE(future.at("items").as_array().empty());
  auto one = c.get(std::string(kApi) + "/auditevents/" + str(items[0], {"metadata", "name"}));
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(c.post(std::string(kApi) + "/auditevents", "{}").status, 405);
  EXPECT_EQ(c.get(std::string(kApi) + "/auditevents?since=yesterday").status, 400);
}

TEST_F(ApiCrudTest, OperationalEndpoints) {
  HttpClient anon(server_->endpoint());
  EXPECT_EQ(anon.get("/healthz").body, "ok");
  EXPECT_EQ(anon.get("/readyz").status, 200);
  EXPECT_EQ(anon.get("/version").status, 200);
  EXPECT_EQ(anon.get("/metrics").status, 401);
  EXPECT_EQ(anon.get(cells()).status, 401);
  auto c = admin();
  auto metrics = c.get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const char* m :
       {"tessera_apiserver_requests_total", "tessera_apiserver_request_duration_seconds_bucket",
        "tessera_db_pool_connections_open", "tessera_apiserver_watches",
        "tessera_db_pool_wait_seconds"}) {
    EXPECT_NE(metrics.body.find(m), std::string::npos) << m;
  }
  auto disc = c.get(kApi).json();
  std::string resources = json::serialize(disc);
  for (const char* r :
       {"\"cells\"", "\"cells/status\"", "\"clusters\"", "\"applications\"", "\"auditevents\""}) {
    EXPECT_NE(resources.find(r), std::string::npos) << r;
  }
  EXPECT_EQ(c.get("/openapi/v3").status, 200);
  // Unknown API paths are 404; any other path belongs to the web console (its SPA routes),
  // which tests/console_api covers.
  EXPECT_EQ(c.get("/apis/nowhere.tessera.io/v1/things").status, 404);
  EXPECT_EQ(c.get("/api/v1/nowhere").status, 404);
  auto table =
      c.request("GET", cells(), "", {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}});
  ASSERT_EQ(table.status, 200);
  EXPECT_EQ(str(table.json(), {"kind"}), "Table");
  EXPECT_EQ(
      c.request("GET", cells(), "", {{"Accept", "application/vnd.kubernetes.protobuf"}}).status,
      406);
}

TEST_F(ApiCrudTest, OversizedBodyIs413) {
  std::string big(4 * 1024 * 1024, 'x');
  auto r = admin().post(cells(), big);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("RequestEntityTooLarge"), std::string::npos);
  EXPECT_EQ(admin().get("/healthz").status, 200);
}

}  // namespace
}  // namespace tessera::testing
