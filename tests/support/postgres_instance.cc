#include "tests/support/postgres_instance.h"

#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

namespace tessera::testing {
namespace {

const std::string kBin = "/usr/lib/postgresql/15/bin/";

std::vector<std::string> asPgUser(std::vector<std::string> argv) {
  if (geteuid() != 0) return argv;
  std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

void chownToPostgres(const std::string& path) {
  if (geteuid() != 0) return;
  passwd* pw = getpwnam("postgres");
  if (!pw) throw std::runtime_error("running as root but there is no 'postgres' user");
  if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    throw std::runtime_error("chown " + path + " failed");
  }
}

const char kDirPrefix[] = "tessera-pg-";
const char kOwnerFile[] = "owner.pid";

// A test binary that is killed (a ctest timeout, a sanitizer abort) never runs its destructors:
// its cluster keeps running and its directory stays in /tmp, a few dozen megabytes each. Every
// cluster names the test process that owns it; this stops and removes those whose owner is
// gone. A directory without an owner yet is being created, and is left alone.
void reapOrphanedClusters() {
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/tmp", ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::filesystem::path& dir = it->path();
    if (dir.filename().string().rfind(kDirPrefix, 0) != 0) continue;
    pid_t owner = readPidFile(dir / kOwnerFile);
    if (owner == 0 || processRuns(owner)) continue;
    std::string dataDir = (dir / "data").string();
    if (readPidFile(dataDir + "/postmaster.pid") != 0) {
      runCommand(asPgUser({kBin + "pg_ctl", "-D", dataDir, "-m", "immediate", "-w", "stop"}));
    }
    std::error_code removeError;  // another test binary may be removing it at the same time
    std::filesystem::remove_all(dir, removeError);
  }
}

}  // namespace

std::unique_ptr<PostgresInstance> PostgresInstance::start() {
  reapOrphanedClusters();
  std::unique_ptr<PostgresInstance> pg(new PostgresInstance());
  std::string tmpl = std::string("/tmp/") + kDirPrefix + "XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  pg->dir_ = tmpl;
  writeFile(pg->dir_ + "/" + kOwnerFile, std::to_string(getpid()) + "\n");
  pg->dataDir_ = pg->dir_ + "/data";
  pg->logPath_ = pg->dir_ + "/postgres.log";
  chownToPostgres(pg->dir_);
  auto r = runCommand(asPgUser({kBin + "initdb", "-D", pg->dataDir_, "-A", "trust", "-U",
                                "postgres", "-E", "UTF8", "--no-sync"}));
  if (r.exitCode != 0) throw std::runtime_error("initdb failed: " + r.out + r.err);
  writeFile(pg->dir_ + "/extra.conf", "");
  pg->startAgain();
  return pg;
}

PostgresInstance::~PostgresInstance() {
  if (running_) stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void PostgresInstance::startAgain() {
  auto r =
      runCommand(asPgUser({kBin + "pg_ctl", "-D", dataDir_, "-l", logPath_, "-w", "-t", "60", "-o",
                           "-k " + dir_ +
                               " -c listen_addresses='' -p 5432 "
                               "-c max_connections=200 -c shared_buffers=64MB",
                           "start"}));
  if (r.exitCode != 0) {
    throw std::runtime_error("pg_ctl start failed: " + r.out + r.err + tailFile(logPath_));
  }
  running_ = true;
}

void PostgresInstance::stop() {
  runCommand(asPgUser({kBin + "pg_ctl", "-D", dataDir_, "-m", "fast", "-w", "stop"}));
  running_ = false;
}

std::string PostgresInstance::conninfo(const std::string& db) const {
  return "host=" + dir_ + " port=5432 user=postgres dbname=" + db + " connect_timeout=3";
}

std::string PostgresInstance::psql(const std::string& db, const std::string& sql) const {
  auto r = runCommand({kBin + "psql", "-h", dir_, "-p", "5432", "-U", "postgres", "-d", db, "-v",
                       "ON_ERROR_STOP=1", "-Atq", "-c", sql});
  if (r.exitCode != 0) throw std::runtime_error("psql failed: " + r.err);
  return r.out;
}

std::string PostgresInstance::createDatabase() {
  std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(nextDb_++);
  psql("postgres", "CREATE DATABASE " + name);
  return name;
}

PostgresInstance& sharedPostgres() {
  static std::unique_ptr<PostgresInstance> instance = PostgresInstance::start();
  return *instance;
}

}  // namespace tessera::testing
