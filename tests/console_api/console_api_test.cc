// The console's server side against a real tessera-server (HTTPS) on a real PostgreSQL: the
// static console (caching, security headers, SPA fallback, traversal), who-am-I per role and
// through stock `kubectl auth whoami`, and live traffic scraped from a real tessera-proxy.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <filesystem>

#include "common/time_util.h"
#include "mesh/xds/config_client.h"
#include "tests/apiserver/api_test_util.h"
#include "tests/mesh/proxy/proxy_test_util.h"
#include "tests/support/server_instance.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kIndex[] =
    "<!doctype html><html><head><script type=\"module\" src=\"/assets/app-3f9a1c.js\">"
    "</script></head><body><div id=\"app\"></div></body></html>\n";
constexpr char kScript[] = "console.log('tessera console');\n";
constexpr char kStyle[] = "body { margin: 0 }\n";
constexpr char kSecret[] = "secret outside the web root\n";
constexpr char kReviews[] = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
constexpr char kStats[] = "/apis/traffic.tessera.io/v1/stats";

class ConsoleApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("tessera-console");
    const std::string root = dir_->path() + "/dist";
    fs::create_directories(root + "/assets");
    writeFile(root + "/index.html", kIndex);
    writeFile(root + "/assets/app-3f9a1c.js", kScript);
    writeFile(root + "/assets/app-77b2e0.css", kStyle);
    writeFile(root + "/favicon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    writeFile(dir_->path() + "/secret.txt", kSecret);
    writeFile(root + "/.env", kSecret);
    fs::create_symlink(dir_->path() + "/secret.txt", root + "/leak.txt");
    ServerOptions o;
    o.tls = true;  // kubectl sends bearer tokens only over TLS
    o.extraArgs = {"--web-root", root, "--traffic-scrape-interval", "500ms"};
    server_ = ServerInstance::start(sharedPostgres(), o).release();
    home_ = new TempDir("tessera-console-kubectl");
  }
  static void TearDownTestSuite() {
    delete server_;
    delete home_;
    delete dir_;
  }

  static std::string root() { return dir_->path() + "/dist"; }
  /// A new APIToken's secret; the object is named by the server (user names may hold ':').
  static std::string token(const std::string& user, const std::string& role) {
    json::object o{{"apiVersion", "tessera.io/v1"},
                   {"kind", "APIToken"},
                   {"metadata", json::object{{"generateName", "t-"}}},
                   {"spec", json::object{{"user", user}, {"role", role}}}};
    auto r = server_->client().post(std::string(kApi) + "/apitokens", json::serialize(o));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? str(r.json(), {"status", "token"}) : std::string();
  }
  static HttpClient anonymous() { return server_->client(""); }

  static ServerInstance* server_;
  static TempDir* dir_;
  static TempDir* home_;
};
ServerInstance* ConsoleApiTest::server_ = nullptr;
TempDir* ConsoleApiTest::dir_ = nullptr;
TempDir* ConsoleApiTest::home_ = nullptr;

// ---- the static console ----

TEST_F(ConsoleApiTest, IndexWithSecurityHeadersAndNoCache) {
  auto r = anonymous().get("/");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, kIndex);
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.header("cache-control"), "no-cache");
  EXPECT_FALSE(r.header("etag").empty());
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  const std::string csp = r.header("content-security-policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
  EXPECT_EQ(r.header("x-frame-options"), "DENY");
  EXPECT_EQ(anonymous().get("/index.html").body, kIndex);
}

TEST_F(ConsoleApiTest, AssetsWithTheirTypesAndALongCache) {
  auto js = anonymous().get("/assets/app-3f9a1c.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.body, kScript);
  EXPECT_EQ(js.header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js.header("cache-control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(js.header("x-content-type-options"), "nosniff");
  EXPECT_TRUE(js.header("content-security-policy").empty()) << "only HTML gets the CSP";
  auto css = anonymous().get("/assets/app-77b2e0.css?v=1");
  ASSERT_EQ(css.status, 200);
  EXPECT_EQ(css.body, kStyle);
  EXPECT_EQ(css.header("content-type"), "text/css; charset=utf-8");
  auto svg = anonymous().get("/favicon.svg");
  ASSERT_EQ(svg.status, 200);
  EXPECT_EQ(svg.header("content-type"), "image/svg+xml");
  EXPECT_EQ(svg.header("cache-control"), "no-cache");
}

TEST_F(ConsoleApiTest, SinglePageAppFallbackButNotForAssets) {
  for (const char* path : {"/applications/pay/demo", "/shardmap", "/audit?user=vera",
                           "/assets-like/x", "/favicon.png", "/assets"}) {
    auto r = anonymous().get(path);
    if (std::string(path) == "/assets") {
      EXPECT_EQ(r.status, 404) << path;  // a directory under /assets/: no fallback either
      continue;
    }
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, kIndex) << path;
    EXPECT_EQ(r.header("cache-control"), "no-cache") << path;
  }
  auto missing = anonymous().get("/assets/app-000000.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body.find("<html"), std::string::npos);
}

TEST_F(ConsoleApiTest, TraversalAndDotfilesAreRefused) {
  for (const char* path :
       {"/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt",
        "/assets/%2E%2E/%2e%2e/secret.txt", "/..%2fsecret.txt", "/assets/..%2f..%2fsecret.txt",
        "/.env", "/%2eenv", "/assets/%00x.js", "/x/../../secret.txt", "/assets/%2fetc%2fpasswd"}) {
    auto r = anonymous().get(path);
    EXPECT_EQ(r.status, 404) << path << ": " << r.body;
    EXPECT_EQ(r.body.find("secret"), std::string::npos) << path;
  }
  // Not a URL path at all.
  auto backslash = anonymous().get("/..\\secret.txt");
  EXPECT_EQ(backslash.status, 400) << backslash.body;
  EXPECT_EQ(backslash.body.find("secret outside"), std::string::npos);
  // A leading "/./" is no traversal (Boost.URL drops it): the same file, inside the root.
  EXPECT_EQ(anonymous().get("/./index.html").body, kIndex);
  // A symlink pointing out of the root is not followed (the path is just not a console file).
  auto link = anonymous().get("/leak.txt");
  EXPECT_EQ(link.body.find("secret"), std::string::npos) << link.body;
}

TEST_F(ConsoleApiTest, HeadAndConditionalGets) {
  auto get = anonymous().get("/");
  ASSERT_EQ(get.status, 200);
  const std::string etag = get.header("etag");
  ASSERT_FALSE(etag.empty());
  auto head = anonymous().request("HEAD", "/");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.header("content-length"), std::to_string(std::string(kIndex).size()));
  EXPECT_EQ(head.header("etag"), etag);
  auto headAsset = anonymous().request("HEAD", "/assets/app-3f9a1c.js");
  EXPECT_EQ(headAsset.status, 200);
  EXPECT_EQ(headAsset.header("content-length"), std::to_string(std::string(kScript).size()));

  auto c = anonymous();
  for (const std::string& inm : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    auto r = c.request("GET", "/", "", {{"If-None-Match", inm}});
    EXPECT_EQ(r.status, 304) << inm;
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.header("etag"), etag);
  }
  // Keep-alive survives a 304 and a HEAD on the same connection.
  auto again = c.request("HEAD", "/");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(c.get("/assets/app-3f9a1c.js").body, kScript);
  EXPECT_EQ(c.request("GET", "/", "", {{"If-None-Match", "\"other\""}}).status, 200);
}

TEST_F(ConsoleApiTest, ChangedFilesAreServedAnew) {
  const std::string path = root() + "/changing.txt";
  writeFile(path, "one\n");
  auto first = anonymous().get("/changing.txt");
  ASSERT_EQ(first.body, "one\n");
  writeFile(path, "two, longer\n");
  auto second = anonymous().get("/changing.txt");
  EXPECT_EQ(second.body, "two, longer\n");
  EXPECT_NE(second.header("etag"), first.header("etag"));
  auto stale =
      anonymous().request("GET", "/changing.txt", "", {{"If-None-Match", first.header("etag")}});
  EXPECT_EQ(stale.status, 200);
  fs::remove(path);
  EXPECT_EQ(anonymous().get("/changing.txt").body, kIndex);  // gone: the app's fallback
}

TEST_F(ConsoleApiTest, ApiPathsKeepTheirAnswers) {
  auto anon = anonymous();
  EXPECT_EQ(anon.get("/healthz").body, "ok");
  EXPECT_EQ(anon.get("/readyz").status, 200);
  EXPECT_NE(anon.get("/version").body.find("gitVersion"), std::string::npos);
  for (const char* path : {"/api", "/apis", "/apis/tessera.io/v1/cells", "/metrics", "/openapi/v3",
                           "/apis/nope", kStats}) {
    auto r = anon.get(path);
    EXPECT_EQ(r.status, 401) << path << ": " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json") << path;
  }
  auto admin = server_->client();
  EXPECT_EQ(admin.get(std::string(kApi) + "/cells").status, 200);
  EXPECT_EQ(admin.get("/apis/nope").status, 404);
  EXPECT_EQ(admin.get("/healthz/x").status, 404);
  EXPECT_TRUE(waitFor([&] {
    return admin.get("/metrics").body.find("tessera_traffic_scrapes_total") != std::string::npos;
  }));
  // Writes to a console path are not the console's business.
  EXPECT_EQ(anon.post("/applications", "{}").status, 401);
}

TEST_F(ConsoleApiTest, NoConsoleBuiltAndNoTrafficStats) {
  ServerOptions o;
  o.extraArgs = {"--web-root", dir_->path() + "/nothing-here", "--no-traffic-stats"};
  auto other = ServerInstance::start(sharedPostgres(), o);
  auto r = other->client("").get("/");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("console is not built"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("npm run build"), std::string::npos) << r.body;
  EXPECT_EQ(other->client("").get("/healthz").body, "ok");
  auto stats = other->client().get(kStats);
  EXPECT_EQ(stats.status, 503) << stats.body;
  EXPECT_NE(stats.body.find("--no-traffic-stats"), std::string::npos) << stats.body;
}

// ---- who am I ----

std::string review() {
  return R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})";
}

TEST_F(ConsoleApiTest, WhoAmIPerRole) {
  for (const char* role : {"viewer", "operator", "admin"}) {
    const std::string user = std::string("whoami-") + role;
    auto c = server_->client(server_->createToken(user, role));
    auto r = c.post(kReviews, review());
    ASSERT_EQ(r.status, 201) << r.body;
    json::value v = r.json();
    EXPECT_EQ(str(v, {"kind"}), "SelfSubjectReview");
    EXPECT_EQ(str(v, {"apiVersion"}), "authentication.k8s.io/v1");
    EXPECT_EQ(str(v, {"status", "userInfo", "username"}), user);
    const auto& groups = v.at("status").at("userInfo").at("groups").as_array();
    ASSERT_EQ(groups.size(), 2u) << r.body;
    EXPECT_EQ(groups[0].as_string(), std::string("tessera:role:") + role);
    EXPECT_EQ(groups[1].as_string(), "system:authenticated");
    // kubectl sends no body fields beyond these; an empty body is fine too.
    EXPECT_EQ(c.post(kReviews, "").status, 201);
    EXPECT_EQ(c.get(kReviews).status, 405);
  }
  auto anon = anonymous().post(kReviews, review());
  EXPECT_EQ(anon.status, 401);
  auto proxy = server_->client(token("system:proxy:x", "proxy")).post(kReviews, review());
  EXPECT_EQ(proxy.status, 403) << proxy.body;
  auto wrongKind = server_->client().post(
      kReviews, R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview"})");
  EXPECT_EQ(wrongKind.status, 400);
  EXPECT_EQ(server_->client().post(kReviews, "not json").status, 400);
}

TEST_F(ConsoleApiTest, DiscoveryListsTheAuthenticationGroup) {
  auto c = server_->client();
  auto groups = c.get("/apis");
  ASSERT_EQ(groups.status, 200);
  bool found = false;
  const json::value groupList = groups.json();  // kept alive: the loop reads into it
  for (const auto& g : groupList.at("groups").as_array()) {
    if (str(g, {"name"}) == "authentication.k8s.io") {
      found = true;
      EXPECT_EQ(str(g, {"preferredVersion", "groupVersion"}), "authentication.k8s.io/v1");
    }
  }
  EXPECT_TRUE(found) << groups.body;
  auto resources = c.get("/apis/authentication.k8s.io/v1");
  ASSERT_EQ(resources.status, 200);
  auto list = resources.json();
  EXPECT_EQ(str(list, {"groupVersion"}), "authentication.k8s.io/v1");
  ASSERT_EQ(list.at("resources").as_array().size(), 1u);
  EXPECT_EQ(str(list.at("resources").at(0), {"name"}), "selfsubjectreviews");
  EXPECT_EQ(str(list.at("resources").at(0), {"verbs"}), R"(["create"])");
  EXPECT_EQ(c.get("/apis/authentication.k8s.io").status, 200);
}

TEST_F(ConsoleApiTest, KubectlAuthWhoAmI) {
  if (runCommand({"kubectl", "version", "--client"}).exitCode != 0) {
    GTEST_FAIL() << "kubectl is required (it is preinstalled on the build machines)";
  }
  auto kubectl = [&](const std::string& kubeconfig, std::vector<std::string> args) {
    args.insert(args.begin(), "kubectl");
    return runCommand(args, {"KUBECONFIG=" + kubeconfig, "HOME=" + home_->path()}, seconds(60));
  };
  auto admin = kubectl(server_->kubeconfigPath(), {"auth", "whoami", "-o", "json"});
  ASSERT_EQ(admin.exitCode, 0) << admin.err;
  json::value v = json::parse(admin.out);
  EXPECT_EQ(str(v, {"status", "userInfo", "username"}), "admin");
  EXPECT_NE(admin.out.find("tessera:role:admin"), std::string::npos) << admin.out;

  // A viewer's kubeconfig: the admin's with the viewer's token.
  const std::string viewerToken = server_->createToken("vera", "viewer");
  std::string config = readFile(server_->kubeconfigPath());
  const std::string adminToken = server_->adminToken();
  ASSERT_NE(config.find(adminToken), std::string::npos);
  config.replace(config.find(adminToken), adminToken.size(), viewerToken);
  const std::string viewerConfig = home_->path() + "/viewer.kubeconfig";
  writeFile(viewerConfig, config);
  auto viewer = kubectl(viewerConfig, {"auth", "whoami"});
  ASSERT_EQ(viewer.exitCode, 0) << viewer.err;
  EXPECT_NE(viewer.out.find("vera"), std::string::npos) << viewer.out;
  EXPECT_NE(viewer.out.find("tessera:role:viewer"), std::string::npos) << viewer.out;
  // And the group shows in kubectl's discovery.
  auto resources =
      kubectl(server_->kubeconfigPath(), {"api-resources", "--api-group", "authentication.k8s.io"});
  ASSERT_EQ(resources.exitCode, 0) << resources.err;
  EXPECT_NE(resources.out.find("selfsubjectreviews"), std::string::npos) << resources.out;
}

// ---- live traffic ----

TEST_F(ConsoleApiTest, TrafficStatsNeedAReaderToken) {
  EXPECT_EQ(anonymous().get(kStats).status, 401);
  auto viewer = server_->client(server_->createToken("stats-viewer", "viewer"));
  auto r = viewer.get(std::string(kStats) + "?window=60");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = r.json();
  EXPECT_EQ(str(v, {"kind"}), "TrafficStats");
  EXPECT_EQ(str(v, {"apiVersion"}), "traffic.tessera.io/v1");
  EXPECT_EQ(str(v, {"windowSeconds"}), "60");
  EXPECT_EQ(v.at("intervalSeconds").to_number<double>(), 0.5);
  EXPECT_NE(r.body.find(R"("intervalSeconds":0.5,)"), std::string::npos) << r.body;
  EXPECT_TRUE(v.at("series").is_array());
  EXPECT_EQ(
      viewer.get(std::string(kStats) + "?window=100000").json().at("windowSeconds").as_int64(),
      600);
  EXPECT_EQ(viewer.get(std::string(kStats) + "?window=abc").status, 400);
  EXPECT_EQ(viewer.get(std::string(kStats) + "?window=0").status, 400);
  EXPECT_EQ(viewer.post(kStats, "{}").status, 405);
  auto agent = server_->client(token("system:cluster:x", "agent")).get(kStats);
  EXPECT_EQ(agent.status, 403);
}

/// A proxy's stream to the mesh control plane (which writes its Proxy object), announcing the
/// admin address of a real tessera-proxy; the proxy itself serves its own config file.
std::unique_ptr<mesh::ConfigClient> announce(const ServerInstance& server, const std::string& token,
                                             const std::string& id, const std::string& dc,
                                             const std::string& listen, const std::string& admin) {
  mesh::ConfigClientOptions o;
  o.server = "127.0.0.1:" + std::to_string(server.meshPort());
  o.token = token;
  o.caFile = server.caFile();
  o.identity.id = id;
  o.identity.datacenter = dc;
  o.identity.role = "gateway";
  o.identity.listenAddress = listen;
  o.identity.adminAddress = admin;
  o.buildVersion = "test";
  o.initialBackoff = milliseconds(50);
  o.maxBackoff = milliseconds(500);
  auto c = mesh::ConfigClient::create(
      o, [](mesh::ResourceType, const std::string&, const std::vector<mesh::ResourceSet::Named>&) {
        return Status::ok();
      });
  c->start();
  return c;
}

const json::value* findSeries(const json::value& stats, const std::string& dc,
                              const std::string& cell, const std::string& revision,
                              const std::string& app) {
  for (const auto& s : stats.at("series").as_array()) {
    if (str(s, {"datacenter"}) == dc && str(s, {"cell"}) == cell &&
        str(s, {"revision"}) == revision && str(s, {"application"}) == app) {
      return &s;
    }
  }
  return nullptr;
}

double maxOf(const json::value& series, const char* field) {
  double m = 0;
  for (const auto& p : series.at("points").as_array())
    m = std::max(m, p.at(field).to_number<double>());
  return m;
}

TEST_F(ConsoleApiTest, TrafficStatsFromARealProxy) {
  ASSERT_NE(server_->meshPort(), 0) << "the server runs without the mesh control plane";
  TestBackend v1("v1"), v2("v2");
  std::atomic<int> v2Count{0};
  v2.setHandler([&](const BackendRequest&) {
    BackendReply r;
    r.body = "v2";
    if (++v2Count % 4 == 0) r.status = 500;  // a quarter fails (never 5 in a row: no ejection)
    return r;
  });
  const uint16_t listen = freePort();
  const std::string cluster = "pay.shop.rz-a";  // the control plane's <ns>.<app>.<cell>
  auto proxy = ProxyProcess::start(R"(version: "1"
listeners:
- {name: http, address: 127.0.0.1, port: )" +
                                   std::to_string(listen) + R"(, routeTable: tessera}
routeTables:
- name: tessera
  routes:
  - name: shop
    match: {prefix: /}
    forward:
      targets:
      - {cluster: )" + cluster + R"(, revision: v1, weight: 50}
      - {cluster: )" + cluster + R"(, revision: v2, weight: 50}
clusters:
- name: )" + cluster + R"(
  endpoints:
  - {address: 127.0.0.1, port: )" + std::to_string(v1.port()) +
                                   R"(, revision: v1}
  - {address: 127.0.0.1, port: )" + std::to_string(v2.port()) +
                                   R"(, revision: v2}
)");
  ASSERT_TRUE(proxy);
  const std::string token = server_->createToken("traffic-test-proxies", "proxy");
  auto gw = announce(*server_, token, "gw-dc-a", "dc-a", "127.0.0.1:" + std::to_string(listen),
                     "127.0.0.1:" + std::to_string(proxy->adminPort()));
  auto away = announce(*server_, token, "gw-dc-b", "dc-b", "127.0.0.1:1", "127.0.0.1:1");
  auto viewer = server_->client(server_->createToken("traffic-viewer", "viewer"));

  StrictClient users("127.0.0.1", listen);
  json::value stats;
  const json::value* s1 = nullptr;
  const json::value* s2 = nullptr;
  int sent = 0;
  const bool seen = waitFor(
      [&] {
        for (int i = 0; i < 20 && sent < 20000; ++i, ++sent) users.get("/shop/item");
        auto r = viewer.get(std::string(kStats) + "?window=60");
        if (r.status != 200) return false;
        stats = r.json();
        s1 = findSeries(stats, "dc-a", "rz-a", "v1", "pay/shop");
        s2 = findSeries(stats, "dc-a", "rz-a", "v2", "pay/shop");
        return s1 && s2 && maxOf(*s1, "rps") > 0 && maxOf(*s2, "errorRate") > 0 &&
               stats.at("proxies").at("failed").as_array().size() == 1;
      },
      seconds(60), milliseconds(50));
  ASSERT_TRUE(seen) << json::serialize(stats) << "\nsent " << sent << "\n" << proxy->logTail();
  EXPECT_EQ(stats.at("proxies").at("total").as_int64(), 2);
  EXPECT_EQ(stats.at("proxies").at("scraped").as_int64(), 1);
  const auto& failed = stats.at("proxies").at("failed").at(0);
  EXPECT_EQ(str(failed, {"name"}), "gw-dc-b");
  EXPECT_NE(str(failed, {"reason"}).find("127.0.0.1:1"), std::string::npos) << failed;
  EXPECT_EQ(maxOf(*s1, "errorRate"), 0);  // v1 never fails
  EXPECT_LE(maxOf(*s2, "errorRate"), 1);
  EXPECT_GT(maxOf(*s1, "p99Ms"), 0);
  for (const auto& p : s1->at("points").as_array()) {
    EXPECT_TRUE(parseRfc3339(std::string(p.at("t").as_string()))) << p;
  }
  // Nothing from the gateway clusters or other series.
  EXPECT_EQ(stats.at("series").as_array().size(), 2u) << json::serialize(stats);

  // Once the proxy is gone (disconnected), it is no longer counted.
  gw->stop();
  away->stop();
  ASSERT_TRUE(waitFor(
      [&] {
        auto r = viewer.get(kStats);
        return r.status == 200 && r.json().at("proxies").at("total").as_int64() == 0;
      },
      seconds(30)));
}

// A real tessera-proxy in control-plane mode: its Proxy object (adminAddress included) comes
// from its own stream, and the scraper reaches its admin endpoint. (Without applications the
// control plane gives it no routes, so there is no traffic to count.)
TEST_F(ConsoleApiTest, ScrapesAProxyInControlPlaneMode) {
  ASSERT_NE(server_->meshPort(), 0);
  TempDir dir("tessera-console-cp-proxy");
  writeFile(dir.path() + "/token", token("system:proxy:gw-cp", "proxy"));
  const uint16_t listen = freePort();
  auto proxy = Process::spawn(
      {proxyBinary(), "--control-plane", "127.0.0.1:" + std::to_string(server_->meshPort()),
       "--token-file", dir.path() + "/token", "--ca-file", server_->caFile(), "--id", "gw-cp",
       "--datacenter", "dc-c", "--role", "gateway", "--advertise",
       "127.0.0.1:" + std::to_string(listen), "--admin", "127.0.0.1:0", "--workers", "1"},
      dir.path() + "/proxy.log");
  auto viewer = server_->client(server_->createToken("cp-viewer", "viewer"));
  std::string last;
  const bool scraped = waitFor(
      [&] {
        auto px = viewer.get(std::string(kApi) + "/proxies/gw-cp");
        if (px.status != 200 || str(px.json(), {"status", "connected"}) != "true") return false;
        if (str(px.json(), {"spec", "adminAddress"}).rfind("127.0.0.1:", 0) != 0) return false;
        auto r = viewer.get(kStats);
        last = r.body;
        if (r.status != 200) return false;
        json::value v = r.json();
        if (v.at("proxies").at("scraped").as_int64() < 1) return false;
        for (const auto& f : v.at("proxies").at("failed").as_array()) {
          if (str(f, {"name"}) == "gw-cp") return false;
        }
        return true;
      },
      seconds(60), milliseconds(100));
  EXPECT_TRUE(scraped) << last << "\n" << tailFile(dir.path() + "/proxy.log");
  proxy->signal(SIGTERM);
  proxy->wait(seconds(20));
}

}  // namespace
}  // namespace tessera::testing
