#include "apiserver/postgres/db_pool.h"

#include <poll.h>

#include <pqxx/except>

#include "common/logging.h"

namespace tessera::apiserver::pg {

namespace detail {
bool& connectionBrokenFlag() {
  thread_local bool broken = false;
  return broken;
}
}  // namespace detail

namespace {

// An idle pool connection has nothing to read: anything readable (the server's "terminating
// connection" message, EOF, an error) means it is gone or going. Costs one poll(2) per job.
bool stillConnected(pqxx::connection& c) {
  int fd = c.sock();
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

}  // namespace

Status classifyCurrentException() {
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    detail::connectionBrokenFlag() = true;
    return unavailable(std::string("database connection lost: ") + e.what());
  } catch (const pqxx::in_doubt_error& e) {
    detail::connectionBrokenFlag() = true;
    return unavailable(std::string("database connection lost during commit; the outcome is "
                                   "unknown: ") +
                       e.what());
  } catch (const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    std::string what = e.what();
    while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
    if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03") {
      detail::connectionBrokenFlag() = true;
      return unavailable("database unavailable: " + what);
    }
    if (state == "57014") return {StatusCode::kDeadlineExceeded, "database statement timed out"};
    if (state == "40001" || state == "40P01" || state == "55P03") {
      return unavailable("database contention, retry: " + what);
    }
    if (state == "53300" || state == "53200" || state == "53100") {
      return unavailable("database resources exhausted: " + what);
    }
    return internalError("database error " + state + ": " + what);
  } catch (const std::exception& e) {
    return internalError(std::string("storage error: ") + e.what());
  }
}

DbPool::DbPool(Options options, prometheus::Registry& metrics) : options_(std::move(options)) {
  queueDepth_ = &prometheus::BuildGauge()
                     .Name("tessera_db_pool_queue_depth")
                     .Help("Database jobs waiting for a connection")
                     .Register(metrics)
                     .Add({});
  connectionsOpen_ = &prometheus::BuildGauge()
                          .Name("tessera_db_pool_connections_open")
                          .Help("Open PostgreSQL connections in the pool")
                          .Register(metrics)
                          .Add({});
  prometheus::BuildGauge()
      .Name("tessera_db_pool_size")
      .Help("Configured PostgreSQL connections in the pool")
      .Register(metrics)
      .Add({})
      .Set(options_.size);
  queueWait_ = &prometheus::BuildHistogram()
                    .Name("tessera_db_pool_wait_seconds")
                    .Help("Time a database job waited for a connection")
                    .Register(metrics)
                    .Add({}, latencyBuckets());
  jobDuration_ = &prometheus::BuildHistogram()
                      .Name("tessera_db_job_duration_seconds")
                      .Help("Time a database job held its connection")
                      .Register(metrics)
                      .Add({}, latencyBuckets());
  connectFailures_ = &prometheus::BuildCounter()
                          .Name("tessera_db_connect_failures_total")
                          .Help("Failed attempts to open a PostgreSQL connection")
                          .Register(metrics)
                          .Add({});
  rejected_ = &prometheus::BuildCounter()
                   .Name("tessera_db_pool_rejected_total")
                   .Help("Database jobs refused because the queue was full")
                   .Register(metrics)
                   .Add({});
  for (int i = 0; i < options_.size; ++i) {
    threads_.emplace_back([this, i] { workerLoop(i); });
  }
}

DbPool::~DbPool() {
  stop();
}

void DbPool::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

bool DbPool::submit(std::unique_ptr<Job> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.queueLimit) {
      rejected_->Increment();
      return false;
    }
    queue_.emplace_back(std::move(job), std::chrono::steady_clock::now());
    queueDepth_->Set(static_cast<double>(queue_.size()));
  }
  cv_.notify_one();
  return true;
}

void DbPool::workerLoop(int index) {
  auto log = getLogger("db");
  std::unique_ptr<pqxx::connection> conn;
  std::uint64_t connGeneration = 0;
  std::int64_t lastFailureTicks = 0;
  auto nextAttempt = std::chrono::steady_clock::time_point::min();
  Status lastError = unavailable("database not connected yet");
  while (true) {
    std::unique_ptr<Job> job;
    std::chrono::steady_clock::time_point enqueued;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping and drained
      job = std::move(queue_.front().first);
      enqueued = queue_.front().second;
      queue_.pop_front();
      queueDepth_->Set(static_cast<double>(queue_.size()));
    }
    auto start = std::chrono::steady_clock::now();
    queueWait_->Observe(std::chrono::duration<double>(start - enqueued).count());
    if (conn && (connGeneration < brokenGeneration_.load() || !stillConnected(*conn))) {
      conn.reset();  // the database went away while this connection was idle
      open_.fetch_sub(1);
      connectionsOpen_->Decrement();
      nextAttempt = start;
    }
    if (!conn && (start >= nextAttempt || lastConnectTicks_.load() > lastFailureTicks)) {
      try {
        auto c = std::make_unique<pqxx::connection>(options_.conninfo);
        if (options_.onConnect) options_.onConnect(*c);
        conn = std::move(c);
        connGeneration = brokenGeneration_.load();
        lastConnectTicks_.store(std::chrono::steady_clock::now().time_since_epoch().count());
        open_.fetch_add(1);
        connectionsOpen_->Increment();
        log->info("connected worker={}", index);
      } catch (...) {
        lastError = classifyCurrentException();
        if (lastError.code() != StatusCode::kUnavailable) {
          lastError = unavailable(lastError.message());
        }
        connectFailures_->Increment();
        nextAttempt = start + options_.reconnectBackoff;
        lastFailureTicks = std::chrono::steady_clock::now().time_since_epoch().count();
        log->warn("connect failed worker={} error=\"{}\"", index, lastError.message());
      }
    }
    detail::connectionBrokenFlag() = false;
    job->run(conn.get(), lastError);
    if (conn && detail::connectionBrokenFlag()) {
      log->warn("connection lost worker={}; reconnecting on the next job", index);
      brokenGeneration_.fetch_add(1);
      conn.reset();
      open_.fetch_sub(1);
      connectionsOpen_->Decrement();
      lastError = unavailable("database connection lost");
      nextAttempt = std::chrono::steady_clock::now();  // one immediate retry, then back off
    }
    jobDuration_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  if (conn) {
    open_.fetch_sub(1);
    connectionsOpen_->Decrement();
  }
}

}  // namespace tessera::apiserver::pg
