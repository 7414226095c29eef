// tessera-agent: the agent of one member cluster. Registers with a bootstrap token once,
// then keeps a session with the server and runs the cluster's replicas with its runtime.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "common/logging.h"
#include "common/signals.h"
#include "common/time_util.h"
#include "federation/agent/agent.h"
#include "federation/protocol.h"
#include "federation/runtime/process_runtime.h"

using namespace tessera;

int main(int argc, char** argv) {
  federation::AgentOptions o;
  std::string stateDir = ".tessera-agent";
  std::string portRange = "20000-29999";
  std::string stopGrace = "10s";
  std::string logLevel = "info";
  int maxReplicas = 110;
  bool keepReplicas = false;
  CLI::App app{"tessera-agent: the Tessera agent of one member cluster"};
  app.add_option("--server", o.server, "the server's agent endpoint, host:port")->required();
  app.add_option("--ca-file", o.caFile, "PEM CA of the server's certificate (TLS)");
  app.add_flag("--insecure", o.insecure, "plaintext (a server on loopback without TLS)");
  app.add_option("--cluster", o.cluster, "this cluster's name")->required();
  app.add_option("--region", o.region, "region of the cluster")->required();
  app.add_option("--zone", o.zone, "datacenter (zone) of the cluster")->required();
  app.add_option("--runtime", o.runtimeName, "runtime: process")->capture_default_str();
  app.add_option("--token", o.bootstrapToken, "bootstrap token (first start only)");
  app.add_option("--state-dir", stateDir, "credential, replicas' state and logs")
      ->capture_default_str();
  app.add_option("--credential-file", o.credentialFile, "default: <state-dir>/credential");
  app.add_option("--port-range", portRange, "host ports for replicas, FIRST-LAST")
      ->capture_default_str();
  app.add_option("--max-replicas", maxReplicas, "replicas this cluster may run")
      ->capture_default_str();
  app.add_option("--stop-grace", stopGrace, "SIGTERM, then this long, then SIGKILL")
      ->capture_default_str();
  app.add_flag("--keep-replicas-on-exit", keepReplicas,
               "leave replicas running when the agent stops (they are re-adopted on restart)");
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error")->capture_default_str();
  app.set_version_flag("--version", federation::kAgentVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : federation::kAgentBadConfig;
  }
  initLogging(logLevel);
  auto log = getLogger("agent");
  if (o.caFile.empty() && !o.insecure) {
    std::cerr << "tessera-agent: give --ca-file (TLS) or --insecure (plaintext, loopback only)\n";
    return federation::kAgentBadConfig;
  }
  if (o.runtimeName != "process") {
    std::cerr << "tessera-agent: runtime \"" << o.runtimeName
              << "\" is not available in this build (process only; see docs/federation.md)\n";
    return federation::kAgentBadConfig;
  }
  if (o.credentialFile.empty()) o.credentialFile = stateDir + "/credential";
  auto dash = portRange.find('-');
  auto grace = parseDuration(stopGrace);
  if (dash == std::string::npos || !grace) {
    std::cerr << "tessera-agent: --port-range is FIRST-LAST and --stop-grace a duration\n";
    return federation::kAgentBadConfig;
  }

  blockTerminationSignals();

  runtime::ProcessRuntimeOptions ro;
  ro.stateDir = stateDir + "/runtime";
  ro.portRange = {static_cast<std::uint16_t>(std::stoi(portRange.substr(0, dash))),
                  static_cast<std::uint16_t>(std::stoi(portRange.substr(dash + 1)))};
  ro.stopGrace = *grace;
  ro.maxReplicas = maxReplicas;
  ro.extraEnv = {
      {"TESSERA_CLUSTER", o.cluster}, {"TESSERA_DATACENTER", o.zone}, {"TESSERA_REGION", o.region}};
  auto rt = runtime::ProcessRuntime::create(ro);
  if (!rt.isOk()) {
    log->critical("cannot start the process runtime error=\"{}\"", rt.status().message());
    return federation::kAgentBadConfig;
  }

  federation::Agent agent(o, **rt);
  std::thread signals([&] {
    log->info("stopping signal={}", awaitTerminationSignal());
    agent.stop();
  });
  int code = agent.run();
  if (code == federation::kAgentStopped && !keepReplicas) {
    log->info("stopping replicas grace={}", stopGrace);
    (*rt)->stopAll(std::chrono::duration_cast<std::chrono::seconds>(*grace));
  }
  if (signals.joinable()) {
    if (code != federation::kAgentStopped) pthread_kill(signals.native_handle(), SIGTERM);
    signals.join();
  }
  log->info("exit code={}", code);
  return code;
}
