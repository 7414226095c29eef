// WatchHub: in-memory fan-out of committed changes to the watch streams of this process.
//
// One producer (the storage's change pump) publishes changes in resource-version order,
// together with a watermark: the version up to which every change has been published. Each
// watch stream subscribes to one kind and drains its own bounded queue. A recent window of
// changes is kept in a ring, so that a watch resuming from a recent version needs no query.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "apiserver/storage.h"

namespace prometheus {
class Registry;
class Gauge;
class Counter;
}  // namespace prometheus

namespace tessera::apiserver {

/// A change as watch streams use it: parsed once, shared by every stream.
struct WatchEvent {
  std::int64_t rv = 0;
  EventType type = EventType::kAdded;
  ObjectKey key;
  std::string json;                               // the object, serialized
  boost::json::object object;                     // the object, parsed
  std::optional<boost::json::object> prevLabels;  // labels of the previous version, if any
};
using WatchEventPtr = std::shared_ptr<const WatchEvent>;

/// Builds a WatchEvent from a stored change (parses the JSON).
Result<WatchEventPtr> makeWatchEvent(ChangeEvent change);

class WatchHub {
 public:
  class Subscription;

  WatchHub(std::size_t ringCapacity, std::size_t queueLimit, prometheus::Registry& metrics);

  /// Called by the change pump only, with events in increasing rv, all > the last watermark
  /// and <= `watermark`.
  void publish(std::vector<WatchEventPtr> events, std::int64_t watermark);
  /// Everything up to this version has been published (0 before the first publish).
  std::int64_t watermark() const;
  /// Blocks the caller until the first publish (start-up). Returns false on timeout.
  bool waitReady(std::chrono::milliseconds timeout) const;

  /// Subscribes to changes of `kind` with rv > the current watermark, which the subscription
  /// records as startRv(). `notify` is called (from the publisher's thread) whenever new events
  /// or an overflow are queued; it must not block.
  std::shared_ptr<Subscription> subscribe(const std::string& kind, std::function<void()> notify);

  /// Copies events of `kind` with after < rv <= upTo from the ring. Returns false (and copies
  /// nothing) if the ring no longer holds all of them.
  bool replay(const std::string& kind, std::int64_t after, std::int64_t upTo,
              std::vector<WatchEventPtr>& out) const;

  /// Ends every subscription (shutdown): each stream sees closed() and stops.
  void closeAll();

  std::size_t subscriberCount() const;

 private:
  friend class Subscription;
  void unsubscribe(Subscription* s);

  const std::size_t ringCapacity_;
  const std::size_t queueLimit_;
  mutable std::mutex mu_;
  mutable std::condition_variable readyCv_;
  std::deque<WatchEventPtr> ring_;
  std::int64_t ringFloor_ = 0;  // every event with rv > ringFloor_ is in ring_
  std::int64_t watermark_ = 0;
  bool ready_ = false;
  bool closed_ = false;
  std::list<Subscription*> subs_;
  prometheus::Gauge* watchersGauge_;
  prometheus::Counter* overflows_;
  prometheus::Gauge* watermarkGauge_;
};

class WatchHub::Subscription {
 public:
  ~Subscription();
  std::int64_t startRv() const { return startRv_; }
  /// Moves the queued events out. `overflowed` becomes true if the queue hit its limit (the
  /// stream must end: the client re-lists). `closed` becomes true after closeAll().
  std::vector<WatchEventPtr> drain(bool& overflowed, bool& closed);

 private:
  friend class WatchHub;
  Subscription(WatchHub* hub, std::string kind, std::int64_t startRv, std::function<void()> notify)
      : hub_(hub), kind_(std::move(kind)), startRv_(startRv), notify_(std::move(notify)) {}
  WatchHub* hub_;
  const std::string kind_;
  const std::int64_t startRv_;
  const std::function<void()> notify_;
  std::mutex mu_;
  std::vector<WatchEventPtr> queue_;
  bool overflowed_ = false;
  bool closed_ = false;
};

}  // namespace tessera::apiserver
