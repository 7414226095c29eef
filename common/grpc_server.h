// What Tessera's gRPC servers (agents' federation stream, proxies' mesh stream) share: how a
// listener starts (TLS or plaintext, the keepalive policy, no silent port sharing) and a
// bidirectional stream that queues its writes and owns itself until gRPC is done with it.
//
// Include only from .cc files: this pulls in <grpcpp/grpcpp.h>.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace tessera {

struct GrpcListenOptions {
  std::string address;      // host:port; port 0 picks a free one
  std::string tlsCertFile;  // PEM; empty: plaintext (loopback only)
  std::string tlsKeyFile;
  int maxReceiveBytes = 16 * 1024 * 1024;
  std::string peers;  // who connects, for errors: "agents", "proxies"
};

/// Builds and starts a server for `service` on `options.address`; `boundPort` receives the
/// port. Refuses (instead of sharing) a port another server holds; sends keepalive pings every
/// 20 s and lets clients ping every 10 s, so that dead peers without a reset are noticed.
Result<std::unique_ptr<grpc::Server>> startGrpcServer(const GrpcListenOptions& options,
                                                      grpc::Service& service, int& boundPort);

/// The value of a request metadata entry (e.g. "authorization"), or "".
std::string clientMetadata(const grpc::CallbackServerContext& ctx, std::string_view key);

/// A server bidirectional stream of gRPC's callback API:
/// - it owns itself from adopt() until OnDone, then hands that ownership to onDone();
/// - send() queues, one write in flight at a time as gRPC requires, and cuts off a peer that
///   lets more than `maxQueued` messages pile up;
/// - each message read goes to onRead(), the end of the peer's writes to onReadsEnded().
/// `Derived` (CRTP) provides onRead(In&&), onReadsEnded(), onDone(std::shared_ptr<Derived>)
/// and overflowStatus(). Everything here may be called from any thread.
template <typename Derived, typename In, typename Out>
class QueuedServerStream : public grpc::ServerBidiReactor<In, Out> {
 public:
  // gRPC threads ------------------------------------------------------------------------------
  void OnReadDone(bool ok) final {
    if (!ok) {
      derived().onReadsEnded();
      return;
    }
    derived().onRead(std::move(in_));
    beginReading();
  }
  void OnWriteDone(bool ok) final {
    const Out* next = nullptr;
    {
      std::lock_guard lock(mu_);
      out_.pop_front();
      if (!ok || finished_ || out_.empty()) {
        writing_ = false;
      } else {
        next = &out_.front();
      }
    }
    if (next) this->StartWrite(next);  // never under our lock: gRPC may react inline
  }
  void OnCancel() final { finish(grpc::Status::CANCELLED); }
  void OnDone() final {
    std::shared_ptr<Derived> self;
    {
      std::lock_guard lock(mu_);
      done_ = true;
      self = std::move(self_);
    }
    derived().onDone(std::move(self));
  }

  // any thread --------------------------------------------------------------------------------
  void send(Out m) {
    const Out* first = nullptr;
    bool overflow = false;
    {
      std::lock_guard lock(mu_);
      if (finished_ || done_) return;
      if (out_.size() >= maxQueued_) {
        overflow = true;
      } else {
        out_.push_back(std::move(m));
        if (!writing_) {
          writing_ = true;
          first = &out_.front();
        }
      }
    }
    if (overflow) {
      finish(derived().overflowStatus());
    } else if (first) {
      this->StartWrite(first);
    }
  }
  void finish(grpc::Status status) {
    {
      std::lock_guard lock(mu_);
      if (finished_ || done_) return;
      finished_ = true;
    }
    this->Finish(std::move(status));
  }
  void beginReading() {
    if (ended()) return;
    this->StartRead(&in_);
  }
  bool ended() {
    std::lock_guard lock(mu_);
    return finished_ || done_;
  }
  /// The owning pointer while the stream lives; null once gRPC is done with it.
  std::shared_ptr<Derived> shared() {
    std::lock_guard lock(mu_);
    return self_;
  }

 protected:
  QueuedServerStream(grpc::CallbackServerContext* ctx, std::size_t maxQueued)
      : ctx_(ctx), maxQueued_(maxQueued) {}

  /// Makes `raw` (just created by Derived) own itself until OnDone.
  static std::shared_ptr<Derived> adopt(Derived* raw) {
    std::shared_ptr<Derived> s(raw);
    raw->self_ = s;
    return s;
  }
  /// Runs `f(context)` under the stream's lock unless the stream has ended; true if it ran.
  template <typename F>
  bool whileLive(F&& f) {
    std::lock_guard lock(mu_);
    if (finished_ || done_) return false;
    std::forward<F>(f)(*ctx_);
    return true;
  }

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }

  grpc::CallbackServerContext* ctx_;
  const std::size_t maxQueued_;
  std::mutex mu_;
  std::shared_ptr<Derived> self_;
  In in_;
  std::deque<Out> out_;
  bool writing_ = false;
  bool finished_ = false;
  bool done_ = false;
};

}  // namespace tessera
