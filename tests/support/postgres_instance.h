// An ephemeral PostgreSQL cluster for tests: initdb into a fresh directory, listening only on
// a Unix socket in that directory (no TCP port to collide on), removed afterwards. As root it
// runs as the 'postgres' user, because PostgreSQL refuses to run as root. Each start first
// stops and removes the clusters left behind by test processes that were killed.
#pragma once

#include <memory>
#include <string>

#include "tests/support/process.h"

namespace tessera::testing {

class PostgresInstance {
 public:
  /// Creates and starts a cluster; throws with the reason (and the server log) on failure.
  static std::unique_ptr<PostgresInstance> start();
  ~PostgresInstance();

  /// libpq connection string for database `db`.
  std::string conninfo(const std::string& db) const;
  /// Creates a database with a fresh name and returns the name.
  std::string createDatabase();
  /// Runs SQL with psql in database `db`; returns stdout (unaligned, tuples only).
  std::string psql(const std::string& db, const std::string& sql) const;

  /// Fast shutdown (clients are disconnected) and start again, on the same data.
  void stop();
  void startAgain();
  bool running() const { return running_; }

  const std::string& socketDir() const { return dir_; }
  int port() const { return 5432; }
  const std::string& logPath() const { return logPath_; }

 private:
  PostgresInstance() = default;
  std::string dir_, dataDir_, logPath_;
  bool running_ = false;
  int nextDb_ = 0;
};

/// One cluster shared by all tests of a binary (started on first use).
PostgresInstance& sharedPostgres();

}  // namespace tessera::testing
