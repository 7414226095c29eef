// AsyncEvent: a wake-up for one coroutine, safe to trigger from any thread.
//
// notify() never blocks and is never lost: a notify that arrives before wait() makes the next
// wait() return at once. Include only from .cc files (it pulls in Asio).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>

namespace tessera::apiserver {

class AsyncEvent {
 public:
  /// `executor` must be the (strand) executor of the coroutine that waits.
  explicit AsyncEvent(boost::asio::any_io_executor executor)
      : state_(std::make_shared<State>(executor)) {}

  /// Callable from any thread.
  void notify() const {
    auto st = state_;
    st->pending.store(true);
    boost::asio::post(st->timer.get_executor(), [st] { st->timer.cancel(); });
  }

  /// Returns when notified or at `deadline`, whichever comes first. May return spuriously.
  boost::asio::awaitable<void> wait(std::chrono::steady_clock::time_point deadline) {
    if (state_->pending.exchange(false)) co_return;
    state_->timer.expires_at(deadline);
    boost::system::error_code ec;
    co_await state_->timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    // `pending` stays set if a notify raced with the deadline: the next wait returns at once
    // (a spurious wake-up, harmless to a caller that re-checks its condition).
  }

  /// A callable that notifies, holding the shared state alive.
  std::function<void()> notifier() const {
    auto st = state_;
    return [st] {
      st->pending.store(true);
      boost::asio::post(st->timer.get_executor(), [st] { st->timer.cancel(); });
    };
  }

 private:
  struct State {
    explicit State(boost::asio::any_io_executor ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    std::atomic<bool> pending{false};
  };
  std::shared_ptr<State> state_;
};

}  // namespace tessera::apiserver
