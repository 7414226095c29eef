// The proxy's data-path socket calls, with as few system calls per request as nginx makes:
// 2 recv() and 2 sendmsg() per proxied request on kept-alive connections.
//
// asyncReadSome() is Asio's socket async_read_some minus the recv() that would find nothing.
// Asio's epoll reactor registers every socket edge-triggered and keeps, per socket, a "may hold
// data" flag: set by every epoll event, cleared when a read reports the socket "exhausted"; a
// read starts with recv() only while the flag is set, otherwise it waits for the next event.
// Asio's own read calls a socket exhausted only at end of stream (Boost 1.81), so each read
// after an answer was sent started with a recv() that failed with EAGAIN: one per request on
// the client side, one per request on the upstream side.
//
// This operation also calls a short read — fewer bytes than the buffer holds — exhausted, as
// nginx does, but only when it knows the peer's FIN was not taken with the data: a FIN that
// came in the same event as the data is read away silently, and no later event would announce
// the end of the stream to a read that waits for one. So the operation registers EPOLLRDHUP
// for the socket (once, on its first read) and looks at the events of the socket's latest
// epoll report, which the reactor keeps: a report taken after the FIN came carries EPOLLRDHUP
// (the flag stays up once the FIN is in), and a FIN that comes after the latest report makes
// another report, which sets the reactor's flag again. A short read with EPOLLRDHUP (or
// EPOLLHUP, EPOLLERR) seen is not exhausted: the next read tries recv() and gets end of stream.
//
// The operation plugs into Asio's reactor through its detail interface (reactor_op,
// epoll_reactor::start_op) and three of its private members (socket_io.cc), pinned by the
// Boost version check.
//
// sendNow() writes what the socket takes at once, without a trip through the event loop.
//
// Both call the kernel through syscall(): glibc's recv() and sendmsg() are thread cancellation
// points and switch the thread's cancellation type before and after the call (two atomic
// read-modify-writes each), which showed as 2 % of the proxy's CPU. Tessera never cancels
// threads.
//
// Include this header in .cc files of the data path only.
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/detail/epoll_reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/version.hpp>
#include <cerrno>
#include <cstddef>
#include <utility>

#if BOOST_VERSION / 100 != 1081 || !defined(BOOST_ASIO_HAS_EPOLL) || \
    defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#error "socket_io.h plugs into Boost 1.81's epoll reactor: check it against this Boost"
#endif

namespace tessera::mesh::proxy {

namespace socket_io_detail {

namespace ad = boost::asio::detail;

inline ssize_t recvRaw(int fd, void* data, std::size_t size) {
  return ::syscall(SYS_recvfrom, fd, data, size, 0, nullptr, nullptr);
}

inline ssize_t sendmsgRaw(int fd, const msghdr* msg) {
  return ::syscall(SYS_sendmsg, fd, msg, MSG_NOSIGNAL);
}

// The socket's reactor registration, which basic_socket keeps protected. A pointer to a
// protected member formed in a derived class may be applied to any object of the base.
struct SocketAccess : boost::asio::ip::tcp::socket {
  static auto& implementation(boost::asio::ip::tcp::socket& s) {
    return (s.*(&SocketAccess::impl_)).get_implementation();
  }
};

using DescriptorState = ad::epoll_reactor::descriptor_state;

// Adds EPOLLRDHUP to the socket's registration, once. Without it (a descriptor epoll does not
// take) no short read is called exhausted: every read tries recv() first, as Asio's own do.
// Defined in socket_io.cc, with the reactor's private members it uses.
void watchPeerClose(ad::epoll_reactor* reactor, DescriptorState* state, int fd);

// True when a short read may call the socket empty: EPOLLRDHUP is registered and the socket's
// latest epoll report carried neither it nor EPOLLHUP/EPOLLERR, so the peer's FIN is not in it.
bool peerCloseUnseen(const DescriptorState* state);

template <typename Handler>
class RecvOp : public ad::reactor_op {
 public:
  // Operations come from Asio's per-thread recycling allocator, like its own: no malloc() per
  // read on the hot path.
  using Allocator = boost::asio::recycling_allocator<RecvOp>;
  static RecvOp* create(const DescriptorState* state, int fd, void* data, std::size_t size,
                        Handler&& handler) {
    Allocator allocator;
    RecvOp* op = allocator.allocate(1);
    return new (op) RecvOp(state, fd, data, size, std::move(handler));
  }

 private:
  RecvOp(const DescriptorState* state, int fd, void* data, std::size_t size, Handler&& handler)
      : ad::reactor_op(boost::system::error_code(), &RecvOp::doPerform, &RecvOp::doComplete),
        state_(state),
        fd_(fd),
        data_(data),
        size_(size),
        handler_(std::move(handler)) {}

  static void destroy(RecvOp* op) {
    op->~RecvOp();
    Allocator allocator;
    allocator.deallocate(op, 1);
  }

  // Called by the reactor, with the socket's registration locked: at the start of the read if
  // the socket may hold data, else on its next epoll event.
  static status doPerform(ad::reactor_op* base) {
    auto* op = static_cast<RecvOp*>(base);
    for (;;) {
      const ssize_t n = recvRaw(op->fd_, op->data_, op->size_);
      if (n > 0) {
        op->bytes_transferred_ = static_cast<std::size_t>(n);
        return op->bytes_transferred_ < op->size_ && peerCloseUnseen(op->state_)
                   ? done_and_exhausted
                   : done;
      }
      if (n == 0) {
        // Not exhausted: a read after this one gets end of stream again at once.
        op->ec_ = boost::asio::error::eof;
        return done;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
      op->ec_ = boost::system::error_code(errno, boost::asio::error::get_system_category());
      return done;
    }
  }

  // owner == nullptr: the io_context is being destroyed; free without calling the handler.
  static void doComplete(void* owner, ad::operation* base, const boost::system::error_code&,
                         std::size_t) {
    auto* op = static_cast<RecvOp*>(base);
    Handler handler(std::move(op->handler_));
    const boost::system::error_code ec = op->ec_;
    const std::size_t n = op->bytes_transferred_;
    destroy(op);
    if (owner != nullptr) std::move(handler)(ec, n);
  }

  const DescriptorState* state_;
  int fd_;
  void* data_;
  std::size_t size_;
  Handler handler_;
};

// Per-operation cancellation (a cancellation slot bound to the handler, as awaitable operators
// use): cancels this read only, like Asio's own socket operations.
class ReadCancellation {
 public:
  ReadCancellation(ad::epoll_reactor* reactor, ad::epoll_reactor::per_descriptor_data* data, int fd)
      : reactor_(reactor), data_(data), fd_(fd) {}
  void operator()(boost::asio::cancellation_type_t type) {
    if (!!(type &
           (boost::asio::cancellation_type::terminal | boost::asio::cancellation_type::partial |
            boost::asio::cancellation_type::total))) {
      reactor_->cancel_ops_by_key(fd_, *data_, ad::epoll_reactor::read_op, this);
    }
  }

 private:
  ad::epoll_reactor* reactor_;
  ad::epoll_reactor::per_descriptor_data* data_;
  int fd_;
};

struct Initiate {
  template <typename Handler>
  void operator()(Handler&& handler, ad::epoll_reactor* reactor,
                  boost::asio::ip::tcp::socket* socket, boost::asio::mutable_buffer buffer) const {
    auto& impl = SocketAccess::implementation(*socket);
    boost::system::error_code ec;
    if (buffer.size() == 0 || impl.socket_ == ad::invalid_socket ||
        ((impl.state_ & ad::socket_ops::internal_non_blocking) == 0 &&
         !ad::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true, ec))) {
      // Nothing to read into, a closed socket, or one that cannot be made non-blocking: answer
      // through the executor, never inline.
      if (!ec && impl.socket_ == ad::invalid_socket) ec = boost::asio::error::bad_descriptor;
      boost::asio::post(socket->get_executor(), [h = std::forward<Handler>(handler), ec]() mutable {
        std::move(h)(ec, std::size_t{0});
      });
      return;
    }
    watchPeerClose(reactor, impl.reactor_data_, impl.socket_);
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    auto* op =
        RecvOp<std::decay_t<Handler>>::create(impl.reactor_data_, impl.socket_, buffer.data(),
                                              buffer.size(), std::forward<Handler>(handler));
    if (slot.is_connected()) {
      op->cancellation_key_ =
          &slot.template emplace<ReadCancellation>(reactor, &impl.reactor_data_, impl.socket_);
    }
    reactor->start_op(ad::epoll_reactor::read_op, impl.socket_, impl.reactor_data_, op,
                      /*is_continuation=*/true, /*allow_speculative=*/true);
  }
};

}  // namespace socket_io_detail

/// The reactor of the io_context `socket` runs on, for asyncReadSome(). A lookup by type name
/// under a lock: do it once per connection, not per read.
inline boost::asio::detail::epoll_reactor& socketReactor(boost::asio::ip::tcp::socket& socket) {
  return boost::asio::use_service<boost::asio::detail::epoll_reactor>(
      boost::asio::query(socket.get_executor(), boost::asio::execution::context));
}

/// socket.async_read_some(buffer, token), completing with (error_code, bytes); `reactor` is
/// socketReactor(socket). The io_context must be run by one thread (the proxy's workers are):
/// the operation reads the reactor's per-socket state unlocked. Cancelled like Asio's own read:
/// socket.cancel(), close(), or a cancellation slot bound to the token. Asio's own reads on the
/// same socket stay correct: they start with recv() whenever the reactor's flag is set, and
/// they never clear it on a short read.
template <typename Token>
auto asyncReadSome(boost::asio::detail::epoll_reactor& reactor,
                   boost::asio::ip::tcp::socket& socket, boost::asio::mutable_buffer buffer,
                   Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
      socket_io_detail::Initiate{}, token, &reactor, &socket, buffer);
}

/// Writes as much of `bufs` as the socket takes now — one sendmsg, no trip through the event
/// loop — and advances `bufs` past what was written. A request or response that fits the
/// socket's buffer (nearly all) goes out whole (asio::buffer_size(bufs) == 0); the caller
/// awaits async_write for any rest. A full socket buffer is not an error. The socket must be
/// non-blocking.
template <std::size_t N>
boost::system::error_code sendNow(boost::asio::ip::tcp::socket& socket,
                                  std::array<boost::asio::const_buffer, N>& bufs) {
  std::array<iovec, N> iov;
  for (std::size_t i = 0; i < N; ++i) {
    iov[i].iov_base = const_cast<void*>(bufs[i].data());
    iov[i].iov_len = bufs[i].size();
  }
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = N;
  ssize_t n;
  do {
    n = socket_io_detail::sendmsgRaw(socket.native_handle(), &msg);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
    return boost::system::error_code(errno, boost::asio::error::get_system_category());
  }
  std::size_t sent = static_cast<std::size_t>(n);
  for (auto& b : bufs) {
    const std::size_t k = b.size() < sent ? b.size() : sent;
    b += k;
    sent -= k;
  }
  return {};
}

}  // namespace tessera::mesh::proxy
