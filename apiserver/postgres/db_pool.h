// DbPool: a fixed set of threads, each owning one PostgreSQL connection, and a bounded queue
// of jobs. Internal to the PostgreSQL storage; nothing outside apiserver/postgres/ includes it.
//
// Why: libpqxx calls block. Asio threads must never block, so every database call is a job
// run here; the awaiting coroutine resumes on its own executor when the job is done.
//
// Failure model: a job's libpqxx exceptions are converted to a Status (see classify()). A
// connection that broke is dropped and re-opened on the next job, with a back-off so that a
// database that is down costs one failed connect per worker per back-off period, not one per
// request. While no connection can be opened, jobs fail fast with kUnavailable.
#pragma once

#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "apiserver/storage.h"
#include "common/metrics.h"
#include "common/status.h"

namespace tessera::apiserver::pg {

/// Converts the exception being handled (inside a catch block) to a Status. Connection-level
/// failures become kUnavailable and mark the current worker's connection as broken.
Status classifyCurrentException();

class DbPool {
 public:
  struct Options {
    std::string conninfo;
    int size = 4;
    std::size_t queueLimit = 4096;
    std::chrono::milliseconds reconnectBackoff{500};
    /// Runs on every new connection (session settings, prepared statements). May throw.
    std::function<void(pqxx::connection&)> onConnect;
  };

  DbPool(Options options, prometheus::Registry& metrics);
  ~DbPool();
  DbPool(const DbPool&) = delete;
  DbPool& operator=(const DbPool&) = delete;

  /// Runs `f(pqxx::connection&)` on a pool thread and resumes the caller on its executor.
  /// `f` returns Status or Result<T>; exceptions it throws are classified into that type.
  template <typename F>
  auto run(F f) -> Awaitable<std::invoke_result_t<F&, pqxx::connection&>>;

  /// Blocking variant for start-up and background threads (never from an Asio thread).
  template <typename F>
  auto runBlocking(F f) -> std::invoke_result_t<F&, pqxx::connection&>;

  /// Stops accepting jobs, finishes queued ones, joins the threads. Idempotent.
  void stop();

  /// Connections currently open.
  int openConnections() const { return open_.load(); }

 private:
  struct Job {
    virtual ~Job() = default;
    /// `conn` is null when no connection could be opened; `why` says why.
    virtual void run(pqxx::connection* conn, const Status& why) = 0;
  };
  template <typename R, typename F, typename Done>
  struct JobImpl;

  bool submit(std::unique_ptr<Job> job);
  void workerLoop(int index);

  template <typename R, typename F>
  static R invokeGuarded(F& f, pqxx::connection& c);

  Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::unique_ptr<Job>, std::chrono::steady_clock::time_point>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::atomic<int> open_{0};
  /// Bumped whenever a worker finds its connection broken: the database probably restarted,
  /// so every connection opened before is suspect and is replaced before its next job.
  std::atomic<std::uint64_t> brokenGeneration_{0};
  /// When any worker last connected successfully (steady_clock ticks): a worker backing off
  /// after a failed connect tries again at once if someone connected since.
  std::atomic<std::int64_t> lastConnectTicks_{0};

  prometheus::Gauge* queueDepth_;
  prometheus::Gauge* connectionsOpen_;
  prometheus::Histogram* queueWait_;
  prometheus::Histogram* jobDuration_;
  prometheus::Counter* connectFailures_;
  prometheus::Counter* rejected_;
};

// ---- implementation of the templates ----

namespace detail {
/// Set by classifyCurrentException() when the connection of this worker thread broke.
bool& connectionBrokenFlag();
}  // namespace detail

template <typename R, typename F>
R DbPool::invokeGuarded(F& f, pqxx::connection& c) {
  try {
    return f(c);
  } catch (...) {
    return R(classifyCurrentException());
  }
}

template <typename R, typename F, typename Done>
struct DbPool::JobImpl final : Job {
  JobImpl(F f, Done done) : f_(std::move(f)), done_(std::move(done)) {}
  void run(pqxx::connection* conn, const Status& why) override {
    if (conn)
      done_(invokeGuarded<R>(f_, *conn));
    else
      done_(R(why));
  }
  F f_;
  Done done_;
};

template <typename F>
auto DbPool::run(F f) -> Awaitable<std::invoke_result_t<F&, pqxx::connection&>> {
  using R = std::invoke_result_t<F&, pqxx::connection&>;
  auto ex = co_await boost::asio::this_coro::executor;
  // Named, not a temporary inside the co_await expression: GCC 12 destroys lambda temporaries
  // of co_await expressions twice (the "double free" of coroutine + lambda captures).
  auto initiation = [this, ex](auto handler, F fn) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    auto done = [shared, ex](R r) {
      boost::asio::post(ex, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
    };
    auto job = std::make_unique<JobImpl<R, F, decltype(done)>>(std::move(fn), done);
    if (!submit(std::move(job))) {
      done(R(resourceExhausted("database work queue is full or the pool is stopping")));
    }
  };
  co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(R)>(
      std::move(initiation), boost::asio::use_awaitable, std::move(f));
}

template <typename F>
auto DbPool::runBlocking(F f) -> std::invoke_result_t<F&, pqxx::connection&> {
  using R = std::invoke_result_t<F&, pqxx::connection&>;
  auto promise = std::make_shared<std::promise<R>>();
  auto future = promise->get_future();
  auto done = [promise](R r) { promise->set_value(std::move(r)); };
  auto job = std::make_unique<JobImpl<R, F, decltype(done)>>(std::move(f), done);
  if (!submit(std::move(job))) {
    return R(resourceExhausted("database work queue is full or the pool is stopping"));
  }
  return future.get();
}

}  // namespace tessera::apiserver::pg
