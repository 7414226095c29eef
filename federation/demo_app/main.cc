// tessera-demo-app: a small HTTP service that says who it is. The process runtime, the local
// federation, tests, benchmarks and the web console run it as an application's replicas.
//
// Configured from the environment that runtimes set (PORT, TESSERA_APPLICATION, ...), each
// overridable by a flag. See demo_server.h for what it answers.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "federation/demo_app/demo_server.h"

namespace {

using tessera::demo::DemoServer;
using tessera::demo::DemoServerOptions;

bool writePortFile(const std::string& path, std::uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);

  DemoServerOptions o;
  std::string portFile;
  int graceSeconds = 30;
  CLI::App app{"tessera-demo-app: answers every request with its identity (for Tessera demos)"};
  app.add_option("--port", o.port, "port to listen on; 0: any free port")
      ->envname("PORT")
      ->capture_default_str();
  app.add_option("--address", o.address, "address to listen on")->capture_default_str();
  app.add_option("--port-file", portFile, "write the bound port here once listening");
  auto& id = o.identity;
  app.add_option("--application", id.application, "application name")
      ->envname("TESSERA_APPLICATION");
  app.add_option("--namespace", id.ns, "namespace")->envname("TESSERA_NAMESPACE");
  app.add_option("--revision", id.revision, "revision")->envname("TESSERA_REVISION");
  app.add_option("--cell", id.cell, "cell")->envname("TESSERA_CELL");
  app.add_option("--datacenter", id.datacenter, "datacenter")->envname("TESSERA_DATACENTER");
  app.add_option("--cluster", id.cluster, "member cluster")->envname("TESSERA_CLUSTER");
  app.add_option("--replica", id.replica, "replica name")->envname("TESSERA_REPLICA");
  app.add_option("--fail-percent", o.faults.failPercent, "answer this share of requests with 500")
      ->envname("DEMO_FAIL_PERCENT")
      ->check(CLI::Range(0, tessera::demo::kMaxFailPercent))
      ->capture_default_str();
  app.add_option("--latency-ms", o.faults.latencyMs, "wait this long before every answer")
      ->envname("DEMO_LATENCY_MS")
      ->check(CLI::Range(0, tessera::demo::kMaxLatencyMs))
      ->capture_default_str();
  app.add_option("--shutdown-grace", graceSeconds,
                 "seconds given to requests in flight on SIGTERM/SIGINT")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help or the error (naming the flag or variable)
    return code == 0 ? 0 : 2;
  }
  o.shutdownGrace = std::chrono::seconds(graceSeconds);

  auto server = DemoServer::create(o);
  if (!server.isOk()) {
    std::cerr << "tessera-demo-app: " << server.status().message() << "\n";
    return 1;
  }
  if (!portFile.empty() && !writePortFile(portFile, (*server)->port())) {
    std::cerr << "tessera-demo-app: cannot write the port file " << portFile << "\n";
    return 1;
  }
  (*server)->run();
  return 0;
}
