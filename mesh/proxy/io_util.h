// Small building blocks of the proxy's I/O path: a flat byte buffer and coarse deadlines.
//
// Worker-thread only: nothing here is thread-safe.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace tessera::mesh::proxy {

inline int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// A growable byte buffer with a readable region [begin, end) and free space after it.
/// Grows up to `maxCapacity`; compacts (moves the readable bytes to the front) when needed.
class FlatBuffer {
 public:
  explicit FlatBuffer(size_t initial = 16 * 1024, size_t maxCapacity = 64 * 1024)
      : data_(new char[initial]), cap_(initial), max_(maxCapacity) {}

  const char* data() const { return data_.get() + begin_; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  bool full() const { return begin_ == 0 && end_ == cap_ && cap_ >= max_; }

  /// Free space after the readable bytes (at least `want` bytes if capacity allows).
  char* prepare(size_t want, size_t& got) {
    if (cap_ - end_ < want) {
      if (begin_ > 0) {
        std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (cap_ - end_ < want && cap_ < max_) {
        size_t ncap = cap_ * 2;
        while (ncap - end_ < want && ncap < max_) ncap *= 2;
        if (ncap > max_) ncap = max_;
        std::unique_ptr<char[]> n(new char[ncap]);
        std::memcpy(n.get(), data_.get(), end_);
        data_ = std::move(n);
        cap_ = ncap;
      }
    }
    got = cap_ - end_;
    return data_.get() + end_;
  }
  void commit(size_t n) { end_ += n; }
  void consume(size_t n) {
    begin_ += n;
    if (begin_ >= end_) begin_ = end_ = 0;
  }
  void clear() { begin_ = end_ = 0; }

 private:
  std::unique_ptr<char[]> data_;
  size_t cap_;
  size_t max_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

/// A deadline on one socket. While armed and registered in a TimeoutList, the list's sweep
/// cancels the socket's operations once the deadline passes and sets fired().
class TimeoutSlot {
 public:
  TimeoutSlot() = default;
  TimeoutSlot(const TimeoutSlot&) = delete;
  TimeoutSlot& operator=(const TimeoutSlot&) = delete;
  ~TimeoutSlot() { unlink(); }

  void attach(class TimeoutList& list, boost::asio::ip::tcp::socket* socket);
  void arm(int64_t deadlineNs) {
    deadlineNs_ = deadlineNs;
    fired_ = false;
  }
  void disarm() { deadlineNs_ = 0; }
  bool fired() const { return fired_; }
  int64_t deadline() const { return deadlineNs_; }

 private:
  friend class TimeoutList;
  void unlink();
  TimeoutList* list_ = nullptr;
  TimeoutSlot* prev_ = nullptr;
  TimeoutSlot* next_ = nullptr;
  boost::asio::ip::tcp::socket* socket_ = nullptr;
  int64_t deadlineNs_ = 0;
  bool fired_ = false;
};

/// Every slot of one worker; sweep() is called by a periodic timer of the worker.
class TimeoutList {
 public:
  void sweep(int64_t now) {
    for (TimeoutSlot* s = head_; s != nullptr; s = s->next_) {
      if (s->deadlineNs_ != 0 && now >= s->deadlineNs_) {
        s->deadlineNs_ = 0;
        s->fired_ = true;
        boost::system::error_code ec;
        if (s->socket_ != nullptr) s->socket_->cancel(ec);
      }
    }
  }

 private:
  friend class TimeoutSlot;
  TimeoutSlot* head_ = nullptr;
};

inline void TimeoutSlot::attach(TimeoutList& list, boost::asio::ip::tcp::socket* socket) {
  unlink();
  list_ = &list;
  socket_ = socket;
  next_ = list.head_;
  if (next_ != nullptr) next_->prev_ = this;
  list.head_ = this;
}

inline void TimeoutSlot::unlink() {
  if (list_ == nullptr) return;
  if (prev_ != nullptr)
    prev_->next_ = next_;
  else
    list_->head_ = next_;
  if (next_ != nullptr) next_->prev_ = prev_;
  list_ = nullptr;
  prev_ = next_ = nullptr;
}

}  // namespace tessera::mesh::proxy
