#include "tests/support/server_instance.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <iostream>
#include <stdexcept>

#include "common/kubeconfig.h"
#include "tests/support/wait.h"

#ifndef TESSERA_SERVER_BIN
#error "TESSERA_SERVER_BIN must be defined by the build"
#endif

namespace tessera::testing {

const std::string& serverBinary() {
  static const std::string kPath = TESSERA_SERVER_BIN;
  return kPath;
}

void makeTestCertificates(const std::string& dir) {
  auto run = [](const std::vector<std::string>& argv) {
    auto r = runCommand(argv);
    if (r.exitCode != 0) throw std::runtime_error("openssl failed: " + r.err);
  };
  run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-days", "2", "-subj", "/CN=Tessera test CA", "-keyout", dir + "/ca.key", "-out",
       dir + "/ca.crt"});
  run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-subj", "/CN=tessera-server", "-keyout", dir + "/server.key", "-out", dir + "/server.csr"});
  writeFile(dir + "/server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  run({"openssl", "x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/ca.crt", "-CAkey",
       dir + "/ca.key", "-CAcreateserial", "-days", "2", "-extfile", dir + "/server.ext", "-out",
       dir + "/server.crt"});
}

std::unique_ptr<ServerInstance> ServerInstance::start(PostgresInstance& pg, ServerOptions options) {
  std::unique_ptr<ServerInstance> s(new ServerInstance());
  s->dir_ = std::make_unique<TempDir>("tessera-server");
  const std::string& d = s->dir_->path();
  s->database_ = options.database.empty() ? pg.createDatabase() : options.database;
  s->kubeconfig_ = d + "/kubeconfig";
  s->log_ = d + "/server.log";
  std::vector<std::string> argv = {serverBinary(),
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--db",
                                   pg.conninfo(s->database_),
                                   "--port-file",
                                   d + "/port",
                                   "--admin-kubeconfig",
                                   s->kubeconfig_,
                                   "--log-level",
                                   "info",
                                   "--shutdown-grace",
                                   "10s",
                                   "--agent-listen",
                                   "127.0.0.1:" + std::to_string(options.agentPort),
                                   "--agent-port-file",
                                   d + "/agent-port",
                                   "--mesh-listen",
                                   "127.0.0.1:0",
                                   "--mesh-port-file",
                                   d + "/mesh-port"};
  if (options.tls) {
    makeTestCertificates(d);
    s->caFile_ = d + "/ca.crt";
    argv.insert(argv.end(), {"--tls-cert", d + "/server.crt", "--tls-key", d + "/server.key",
                             "--tls-ca", d + "/ca.crt"});
  }
  argv.insert(argv.end(), options.extraArgs.begin(), options.extraArgs.end());
  s->process_ = Process::spawn(argv, s->log_);
  bool up = waitFor([&] { return !readFile(d + "/port").empty() || !s->process_->running(); },
                    std::chrono::seconds(60));
  std::string port = readFile(d + "/port");
  if (!up || port.empty()) {
    throw std::runtime_error("tessera-server did not start:\n" + tailFile(s->log_));
  }
  s->port_ = static_cast<std::uint16_t>(std::stoi(port));
  s->agentPort_ = static_cast<std::uint16_t>(std::stoi(readFile(d + "/agent-port")));
  if (std::string mesh = readFile(d + "/mesh-port"); !mesh.empty()) {
    s->meshPort_ = static_cast<std::uint16_t>(std::stoi(mesh));
  }
  s->adminToken_ = kubeconfigToken(readFile(s->kubeconfig_));
  if (s->adminToken_.empty()) throw std::runtime_error("no token in kubeconfig");
  return s;
}

ServerInstance::~ServerInstance() {
  // Servers shared by a suite are destroyed in TearDownTestSuite, outside any test: there the
  // suite's failure count says whether the log is wanted.
  const auto* suite = ::testing::UnitTest::GetInstance()->current_test_suite();
  if (::testing::Test::HasFailure() || (suite != nullptr && suite->failed_test_count() > 0)) {
    std::cerr << "---- tessera-server log (" << log_ << ") ----\n"
              << tailFile(log_, 60) << "----\n";
  }
}

Endpoint ServerInstance::endpoint() const {
  return Endpoint{"127.0.0.1", port_, caFile_};
}

std::string ServerInstance::createToken(const std::string& user, const std::string& role) {
  std::string name = "test-" + user + "-" + std::to_string(tokens_++);
  boost::json::object o{{"apiVersion", "tessera.io/v1"},
                        {"kind", "APIToken"},
                        {"metadata", boost::json::object{{"name", name}}},
                        {"spec", boost::json::object{{"user", user}, {"role", role}}}};
  auto r = client().post("/apis/tessera.io/v1/apitokens", boost::json::serialize(o));
  if (r.status != 201) throw std::runtime_error("cannot create token: " + r.body);
  return std::string(r.json().at("status").at("token").as_string());
}

int ServerInstance::terminate(std::chrono::seconds timeout) {
  process_->signal(SIGTERM);
  auto code = process_->wait(timeout);
  return code ? *code : -1;
}

}  // namespace tessera::testing
