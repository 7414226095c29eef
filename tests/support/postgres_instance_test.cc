// The test clusters themselves: one left behind by a killed test process is cleaned up.
#include "tests/support/postgres_instance.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/support/process.h"
#include "tests/support/wait.h"

namespace tessera::testing {
namespace {

// Forks a test process that starts a cluster and is then SIGKILLed, as ctest does on a timeout.
// Returns the cluster's directory.
std::string clusterOfAKilledProcess() {
  int fds[2];
  // Close-on-exec: the cluster's server, started from the child, must not hold the pipe open.
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    auto pg = PostgresInstance::start();
    const std::string& dir = pg->socketDir();
    if (write(fds[1], dir.data(), dir.size()) < 0) _exit(1);
    raise(SIGKILL);  // pg's destructor, which would stop and remove the cluster, never runs
  }
  close(fds[1]);
  std::string dir;
  char buf[256];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) dir.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  return dir;
}

TEST(PostgresInstanceTest, AClusterWhoseTestProcessWasKilledIsStoppedAndRemovedByTheNextStart) {
  std::string orphan = clusterOfAKilledProcess();
  ASSERT_FALSE(orphan.empty()) << "the child process did not start a cluster";
  ASSERT_TRUE(std::filesystem::exists(orphan + "/data/postmaster.pid")) << orphan;
  const pid_t postmaster = readPidFile(orphan + "/data/postmaster.pid");
  ASSERT_GT(postmaster, 0);
  ASSERT_TRUE(processRuns(postmaster)) << "the orphaned cluster should still be running";

  auto next = PostgresInstance::start();

  EXPECT_FALSE(std::filesystem::exists(orphan)) << orphan << " was not removed";
  EXPECT_TRUE(waitFor([&] { return !processRuns(postmaster); }))
      << "the orphaned postmaster " << postmaster << " is still running";
  EXPECT_TRUE(std::filesystem::exists(next->socketDir()));
}

}  // namespace
}  // namespace tessera::testing
