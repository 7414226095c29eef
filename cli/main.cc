// tessctl: Tessera from the command line, for runbooks. It speaks only the public REST API
// (and its watch streams) of tessera-server, with the credentials of a kubeconfig.
//
// Wiring only: the command line is declared here (CLI11); the commands live in cmd_*.cc.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/session.h"

namespace {

using tessera::cli::ExitCode;

constexpr char kFooter[] = R"(
Exit codes (for runbooks):
  0  success
  1  failed: the server failed (5xx) or could not be reached; the outcome may be unknown
  2  usage error: bad command line, or no usable kubeconfig/context
  3  refused by the server (400, 401, 403, 409 after retries, 422, ...): the message says why
  4  not found: the object or the resource type does not exist (404)
  5  timed out: --wait ended before every reachable proxy acknowledged the change

The kubeconfig is --kubeconfig, else $KUBECONFIG, else ./.tessera/kubeconfig (written by
deploy/up.sh), else ~/.kube/config. See docs/tessctl.md.)";

}  // namespace

int main(int argc, char** argv) {
  using namespace tessera::cli;
  CLI::App app{
      "tessctl: operate Tessera through its API (kubectl-like, plus the ShardMap and "
      "proxy runbook commands)",
      "tessctl"};
  app.footer(kFooter);
  app.fallthrough();
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every command");

  GlobalOptions g;
  app.add_option("--kubeconfig", g.kubeconfig, "kubeconfig file");
  app.add_option("--context", g.context, "kubeconfig context (default: its current-context)");
  app.add_option("--server", g.server, "API server URL, e.g. https://127.0.0.1:8443");
  app.add_option("--token", g.token, "bearer token (overrides the kubeconfig's user)");
  app.add_option("--certificate-authority", g.certificateAuthority,
                 "PEM file of the CA that signed the server's certificate");
  app.add_flag("--insecure-skip-tls-verify", g.insecureSkipTlsVerify,
               "do not verify the server's certificate (never in production)");
  app.add_option("-n,--namespace", g.ns, "namespace (default: the context's, else \"default\")");
  app.add_option("--request-timeout", g.requestTimeout, "timeout of each request")
      ->capture_default_str();

  // get
  GetOptions get;
  auto* getCmd = app.add_subcommand("get", "list objects of a kind, or show some by name");
  getCmd
      ->add_option("kind", get.kinds,
                   "resource type: plural, singular or short name "
                   "(several: cells,shardmaps)")
      ->required();
  getCmd->add_option("names", get.names, "names of objects (default: all)");
  getCmd->add_flag("-A,--all-namespaces", get.allNamespaces, "every namespace");
  getCmd->add_option("-l,--selector", get.selector, "label selector, e.g. tier=core");
  getCmd->add_option("--field-selector", get.fieldSelector, "field selector");
  getCmd->add_option("-o,--output", get.output, "table, wide, json, yaml or name")
      ->capture_default_str();
  getCmd->add_flag("-w,--watch", get.watch, "after listing, print changes as they happen");
  getCmd->add_option("--watch-timeout", get.watchTimeout,
                     "end --watch after this long (e.g. 30s), with exit code 0");
  getCmd->add_flag("--no-headers", get.noHeaders, "no header line in tables");

  DescribeOptions describe;
  auto* describeCmd = app.add_subcommand("describe",
                                         "one object, readable: spec, status, "
                                         "conditions, placement, history");
  describeCmd->add_option("kind", describe.kind, "resource type")->required();
  describeCmd->add_option("name", describe.name, "object name")->required();

  ApplyOptions apply;
  auto* applyCmd = app.add_subcommand("apply", "create or update objects from YAML or JSON");
  applyCmd->add_option("-f,--filename", apply.files, "file with one or more objects; - is stdin")
      ->required();
  applyCmd->add_flag("--dry-run", apply.dryRun, "validate on the server, change nothing");

  DeleteOptions del;
  auto* deleteCmd = app.add_subcommand("delete", "delete objects by name");
  deleteCmd->add_option("kind", del.kind, "resource type")->required();
  deleteCmd->add_option("names", del.names, "names of the objects")->required();
  deleteCmd->add_flag("--ignore-not-found", del.ignoreNotFound, "missing objects are no error");

  LogsOptions logs;
  auto* logsCmd = app.add_subcommand("logs", "the recent log (stdout and stderr) of a replica");
  logsCmd->add_option("replica", logs.replica, "replica name (tessctl get replicas)")->required();
  logsCmd->add_option("--tail", logs.tail, "lines, 1-10000")->capture_default_str();

  auto* smCmd = app.add_subcommand("shardmap", "who owns which user buckets; move buckets");
  smCmd->require_subcommand(1);
  ShardMapShowOptions smShow;
  auto* smShowCmd = smCmd->add_subcommand("show", "buckets per cell, version, rollout state");
  smShowCmd->add_option("name", smShow.name, "ShardMap name")->capture_default_str();
  smShowCmd->add_option("-o,--output", smShow.output, "table, json or yaml")->capture_default_str();
  ShardMapMoveOptions smMove;
  auto* smMoveCmd =
      smCmd->add_subcommand("move", "move buckets to a cell (from whichever cells own them now)");
  smMoveCmd->add_option("buckets", smMove.buckets, "buckets, as ranges: 40-49,55")->required();
  smMoveCmd->add_option("--to", smMove.to, "the cell that will own them")->required();
  smMoveCmd->add_option("--name", smMove.name, "ShardMap name")->capture_default_str();
  smMoveCmd->add_option("--reason", smMove.reason, "why (recorded in the ShardMap's history)");
  smMoveCmd->add_flag("--dry-run", smMove.dryRun,
                      "the server validates the change and writes nothing");
  smMoveCmd->add_flag("--wait", smMove.wait,
                      "return when every reachable proxy has acked the new version");
  smMoveCmd->add_option("--timeout", smMove.timeout, "how long --wait waits (exit code 5 after)")
      ->capture_default_str();

  auto* proxiesCmd = app.add_subcommand("proxies", "the mesh proxies");
  proxiesCmd->require_subcommand(1);
  ProxiesStatusOptions proxies;
  auto* proxiesStatusCmd = proxiesCmd->add_subcommand(
      "status", "each proxy: datacenter, role, acked vs desired config, last NACK, last seen");
  proxiesStatusCmd->add_option("-o,--output", proxies.output, "table, json or yaml")
      ->capture_default_str();

  std::string shell;
  auto* completionCmd = app.add_subcommand("completion", "print a shell completion script");
  completionCmd->add_option("shell", shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return toInt(ExitCode::kUsage);
  }

  if (completionCmd->parsed()) {
    std::cout << completionScript(shell);
    return toInt(ExitCode::kOk);
  }

  try {
    auto session = Session::open(g, std::cout, std::cerr);
    if (!session.isOk()) {
      std::cerr << "error: " << session.status().message() << "\n";
      return toInt(session.status().code() == tessera::StatusCode::kInvalidArgument
                       ? ExitCode::kUsage
                       : ExitCode::kFailed);
    }
    Session& s = **session;
    ExitCode code = ExitCode::kOk;
    if (getCmd->parsed()) {
      code = runGet(s, get);
    } else if (describeCmd->parsed()) {
      code = runDescribe(s, describe);
    } else if (applyCmd->parsed()) {
      code = runApply(s, apply);
    } else if (deleteCmd->parsed()) {
      code = runDelete(s, del);
    } else if (logsCmd->parsed()) {
      code = runLogs(s, logs);
    } else if (smShowCmd->parsed()) {
      code = runShardMapShow(s, smShow);
    } else if (smMoveCmd->parsed()) {
      code = runShardMapMove(s, smMove);
    } else if (proxiesStatusCmd->parsed()) {
      code = runProxiesStatus(s, proxies);
    }
    std::cout.flush();
    return toInt(code);
  } catch (const std::exception& e) {
    // Library exceptions that escaped a conversion are bugs; say so rather than abort.
    std::cerr << "error: internal: " << e.what() << "\n";
    return toInt(ExitCode::kFailed);
  }
}
