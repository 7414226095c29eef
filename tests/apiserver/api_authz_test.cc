// Authentication (401) and the role matrix (403), every role × verb × kind, and the audit of
// every refusal.
#include <gtest/gtest.h>

#include "tests/apiserver/api_test_util.h"
#include "tests/support/server_instance.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

namespace json = boost::json;

enum class V { kGet, kList, kWatch, kCreate, kUpdate, kPatch, kDelete, kStatus };
const char* name(V v) {
  switch (v) {
    case V::kGet:
      return "get";
    case V::kList:
      return "list";
    case V::kWatch:
      return "watch";
    case V::kCreate:
      return "create";
    case V::kUpdate:
      return "update";
    case V::kPatch:
      return "patch";
    case V::kDelete:
      return "delete";
    case V::kStatus:
      return "update-status";
  }
  return "?";
}
bool isRead(V v) {
  return v == V::kGet || v == V::kList || v == V::kWatch;
}

struct Kind {
  std::string plural;
  bool namespaced;
  bool hasStatus;
  bool readOnly;  // nobody writes it through the API (405)
  bool adminOnly;
  bool operatorWrites;
  std::string sample;  // a valid object to create
};

std::string bindingSample() {
  return R"({"apiVersion":"tessera.io/v1","kind":"Binding","metadata":{"name":"authz-obj","namespace":"authz"},)"
         R"("spec":{"application":"a","revisions":[{"name":"a-r1","template":{"command":["x"]}}],)"
         R"("placements":[{"cluster":"c1","cell":"rz-a","revision":"a-r1","replicas":1}]}})";
}

std::vector<Kind> kinds() {
  return {
      {"clusters", false, true, false, false, false, clusterJson("authz-obj")},
      {"cells", false, true, false, false, false, cellJson("authz-obj")},
      {"applications", true, true, false, false, true, appJson("authz", "authz-obj")},
      {"bindings", true, true, false, false, true, bindingSample()},
      {"replicas", true, true, true, false, false, "{}"},
      {"apitokens", false, false, false, true, false,
       R"({"apiVersion":"tessera.io/v1","kind":"APIToken","metadata":{"name":"authz-obj"},"spec":{"user":"u","role":"viewer"}})"},
      {"bootstraptokens", false, true, false, true, false,
       R"({"apiVersion":"tessera.io/v1","kind":"BootstrapToken","metadata":{"name":"authz-obj"},"spec":{}})"},
      {"auditevents", false, false, true, false, false, "{}"},
  };
}

// The documented policy (docs/auth.md), written out independently of the server's code.
bool allowed(const std::string& role, const Kind& k, V v) {
  if (role == "admin") return true;
  if (k.adminOnly) return false;
  if (isRead(v)) return true;
  if (v == V::kStatus) return false;
  return role == "operator" && k.operatorWrites;
}

class ApiAuthzTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = ServerInstance::start(sharedPostgres()).release();
    tokens_["viewer"] = server_->createToken("vera", "viewer");
    tokens_["operator"] = server_->createToken("otto", "operator");
    tokens_["admin"] = server_->createToken("ada", "admin");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ServerInstance* server_;
  static std::map<std::string, std::string> tokens_;
};
ServerInstance* ApiAuthzTest::server_ = nullptr;
std::map<std::string, std::string> ApiAuthzTest::tokens_;

TEST_F(ApiAuthzTest, EveryRoleVerbAndKind) {
  int checked = 0;
  for (const std::string role : {"viewer", "operator", "admin"}) {
    auto c = server_->client(tokens_[role]);
    for (const auto& k : kinds()) {
      std::string coll = std::string(kApi) + (k.namespaced ? "/namespaces/authz/" : "/") + k.plural;
      std::string item = coll + "/authz-obj";
      for (V v : {V::kGet, V::kList, V::kWatch, V::kCreate, V::kUpdate, V::kPatch, V::kDelete,
                  V::kStatus}) {
        if (v == V::kStatus && !k.hasStatus) continue;
        int status = 0;
        std::string body;
        switch (v) {
          case V::kGet: {
            auto r = c.get(item);
            status = r.status;
            body = r.body;
            break;
          }
          case V::kList: {
            auto r = c.get(coll);
            status = r.status;
            body = r.body;
            break;
          }
          case V::kWatch: {
            StreamReader w(server_->endpoint(), coll + "?watch=true&timeoutSeconds=5",
                           tokens_[role]);
            status = w.status();
            body = w.errorBody();
            break;
          }
          case V::kCreate: {
            auto r = c.post(coll, k.sample);
            status = r.status;
            body = r.body;
            if (status == 201) c.del(item);  // keep the next rounds comparable
            break;
          }
          case V::kUpdate: {
            auto r = c.put(item, k.sample);
            status = r.status;
            body = r.body;
            break;
          }
          case V::kPatch: {
            auto r = c.mergePatch(item, "{}");
            status = r.status;
            body = r.body;
            break;
          }
          case V::kDelete: {
            auto r = c.del(item);
            status = r.status;
            body = r.body;
            break;
          }
          case V::kStatus: {
            auto r = c.put(item + "/status", k.sample);
            status = r.status;
            body = r.body;
            break;
          }
        }
        std::string what =
            role + " " + name(v) + " " + k.plural + " → " + std::to_string(status) + " " + body;
        ++checked;
        if (k.readOnly && !isRead(v)) {
          EXPECT_EQ(status, 405) << what;  // nobody writes the audit log or replicas
        } else if (allowed(role, k, v)) {
          EXPECT_NE(status, 403) << what;
          EXPECT_NE(status, 401) << what;
          EXPECT_LT(status, 500) << what;
        } else {
          EXPECT_EQ(status, 403) << what;
          EXPECT_NE(body.find("\"reason\":\"Forbidden\""), std::string::npos) << what;
        }
      }
    }
  }
  EXPECT_EQ(checked, 3 * (8 * 6 + 7 + 7));
}

TEST_F(ApiAuthzTest, OperatorsRunApplicationsButNotTopology) {
  auto op = server_->client(tokens_["operator"]);
  std::string apps = std::string(kApi) + "/namespaces/ops/applications";
  ASSERT_EQ(op.post(apps, appJson("ops", "web")).status, 201);
  EXPECT_EQ(op.mergePatch(apps + "/web", R"({"spec":{"placement":{"replicasPerCell":3}}})").status,
            200);
  EXPECT_EQ(op.del(apps + "/web").status, 200);
  auto denied = op.post(std::string(kApi) + "/cells", cellJson("op-cell"));
  EXPECT_EQ(denied.status, 403);
  EXPECT_NE(
      denied.body.find("User \\\"otto\\\" (role operator) cannot create resource \\\"cells\\\""),
      std::string::npos)
      << denied.body;
}

TEST_F(ApiAuthzTest, RefusalsAreAudited) {
  auto viewer = server_->client(tokens_["viewer"]);
  EXPECT_EQ(viewer.post(std::string(kApi) + "/cells", cellJson("nope-cell")).status, 403);
  auto r = server_->client().get(std::string(kApi) +
                                 "/auditevents?fieldSelector=user.username%3Dvera,responseStatus."
                                 "code%3D403,objectRef.resource%3Dcells");
  ASSERT_EQ(r.status, 200);
  auto items = r.json().at("items").as_array();
  ASSERT_FALSE(items.empty());
  EXPECT_EQ(str(items.back(), {"verb"}), "create");
  EXPECT_EQ(str(items.back(), {"user", "role"}), "viewer");
  EXPECT_EQ(str(items.back(), {"responseStatus", "reason"}), "Forbidden");
  // Viewers can read the audit log but never the tokens.
  EXPECT_EQ(viewer.get(std::string(kApi) + "/auditevents?limit=1").status, 200);
  EXPECT_EQ(viewer.get(std::string(kApi) + "/apitokens").status, 403);
}

TEST_F(ApiAuthzTest, UnauthenticatedRequestsAre401WithAReason) {
  std::string cells = std::string(kApi) + "/cells";
  HttpClient anon(server_->endpoint());
  auto none = anon.get(cells);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(str(none.json(), {"reason"}), "Unauthorized");
  EXPECT_EQ(anon.request("GET", cells, "", {{"Authorization", "Basic YWRtaW46YWRtaW4="}}).status,
            401);
  EXPECT_EQ(server_->client("tsr_thisIsNotAToken00000000000000000000000000").get(cells).status,
            401);
  EXPECT_EQ(server_->client("bad token with spaces").get(cells).status, 401);

  auto expired = server_->client().post(
      std::string(kApi) + "/apitokens",
      R"({"apiVersion":"tessera.io/v1","kind":"APIToken","metadata":{"name":"old-token"},"spec":{"user":"old","role":"admin","expirationTimestamp":"2020-01-01T00:00:00Z"}})");
  ASSERT_EQ(expired.status, 201);
  auto r = server_->client(str(expired.json(), {"status", "token"})).get(cells);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("expired"), std::string::npos);
  auto audit = server_->client()
                   .get(std::string(kApi) + "/auditevents?fieldSelector=responseStatus.code%3D401")
                   .json();
  EXPECT_FALSE(audit.at("items").as_array().empty());
}

}  // namespace
}  // namespace tessera::testing
