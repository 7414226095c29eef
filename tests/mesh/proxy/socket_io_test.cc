// The proxy's data-path socket calls: asyncReadSome(), which stops Asio's reactor from trying a
// recv() that would find nothing yet never misses the peer's FIN, and sendNow(). Real loopback
// sockets on a real io_context.
#include "mesh/proxy/socket_io.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <array>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/wait.h"

namespace tessera::mesh::proxy {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct ReadResult {
  boost::system::error_code ec;
  std::string data;
};

// A connected pair on 127.0.0.1: `local` is read through asyncReadSome, `peer` writes.
class SocketIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    peer_.connect(acceptor.local_endpoint());
    acceptor.accept(local_);
    local_.non_blocking(true);
  }

  // Starts a read of up to `size` bytes; the result lands in `out`.
  void startRead(std::size_t size, std::optional<ReadResult>& out) {
    buffer_.assign(size, '\0');
    asyncReadSome(socketReactor(local_), local_, asio::buffer(buffer_),
                  [this, &out](boost::system::error_code ec, std::size_t n) {
                    out = ReadResult{ec, buffer_.substr(0, n)};
                  });
  }

  // Runs the io_context until `out` is set or 10 s pass.
  bool runUntil(const std::optional<ReadResult>& out) {
    io_.restart();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!out && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_until(deadline);
      io_.restart();
    }
    return out.has_value();
  }

  void send(const std::string& s) { asio::write(peer_, asio::buffer(s)); }

  // Runs the reactor once without waiting, with no read queued: it takes the sockets' pending
  // epoll events as the proxy's worker does while it is busy with another socket.
  void collectEvents() {
    auto guard = asio::make_work_guard(io_);
    io_.restart();
    io_.poll();
  }

  std::size_t pendingBytes() {
    int n = 0;
    EXPECT_EQ(::ioctl(local_.native_handle(), FIONREAD, &n), 0);
    return static_cast<std::size_t>(n);
  }

  // Waits until the peer's FIN is in local_'s receive queue.
  void waitForFin() {
    pollfd pfd{local_.native_handle(), POLLRDHUP, 0};
    ASSERT_TRUE(testing::waitFor([&] { return ::poll(&pfd, 1, 0) == 1; })) << "no FIN arrived";
  }

  // One short read gets "bye"; the next read gets end of stream.
  void expectByeThenEof() {
    std::optional<ReadResult> data;
    startRead(4096, data);
    ASSERT_TRUE(runUntil(data));
    EXPECT_FALSE(data->ec);
    EXPECT_EQ(data->data, "bye");
    std::optional<ReadResult> eof;
    startRead(4096, eof);
    ASSERT_TRUE(runUntil(eof)) << "a FIN read away with the data was never reported";
    EXPECT_EQ(eof->ec, asio::error::eof);
    EXPECT_TRUE(eof->data.empty());
  }

  asio::io_context io_{1};
  tcp::socket peer_{io_};
  tcp::socket local_{io_};
  std::string buffer_;
};

TEST_F(SocketIoTest, AShortReadReturnsWhatArrivedAndTheNextReadWaitsForMore) {
  std::optional<ReadResult> first;
  startRead(4096, first);
  send("hello");
  ASSERT_TRUE(runUntil(first));
  EXPECT_FALSE(first->ec);
  EXPECT_EQ(first->data, "hello");

  // The socket is empty now: the next read completes only once more data arrives.
  std::optional<ReadResult> second;
  startRead(4096, second);
  io_.restart();
  io_.poll();
  EXPECT_FALSE(second.has_value());
  send("world");
  ASSERT_TRUE(runUntil(second));
  EXPECT_EQ(second->data, "world");
}

// The case the exhausted flag must not break: after a short read, data arrives and its epoll
// event is consumed while no read is queued (the proxy is busy with the other side). The next
// read must still see it, without another arrival.
TEST_F(SocketIoTest, DataThatArrivedWhileNoReadWasQueuedIsRead) {
  std::optional<ReadResult> first;
  startRead(4096, first);
  send("one");
  ASSERT_TRUE(runUntil(first));
  ASSERT_EQ(first->data, "one");

  send("two");
  ASSERT_TRUE(testing::waitFor([&] { return pendingBytes() == 3; }));
  // Let the reactor collect the EPOLLIN event with nothing queued on the socket.
  collectEvents();

  std::optional<ReadResult> second;
  startRead(4096, second);
  ASSERT_TRUE(runUntil(second)) << "a read after a consumed edge never completed";
  EXPECT_FALSE(second->ec);
  EXPECT_EQ(second->data, "two");
}

// A read that fills its buffer may have left bytes behind: the next read must take them at
// once, with no new arrival to wake it.
TEST_F(SocketIoTest, AFullBufferLeavesTheRestReadableWithoutANewArrival) {
  send("0123456789abcdefghij");
  ASSERT_TRUE(testing::waitFor([&] { return pendingBytes() == 20; }));
  // Consume the arrival's EPOLLIN event first, so that no event is left to rescue a second
  // read that wrongly waits for one.
  collectEvents();
  std::string got;
  for (int i = 0; i < 2; ++i) {
    std::optional<ReadResult> r;
    startRead(10, r);
    ASSERT_TRUE(runUntil(r)) << "read " << i << " of a filled buffer never completed";
    ASSERT_FALSE(r->ec);
    got += r->data;
  }
  EXPECT_EQ(got, "0123456789abcdefghij");
}

TEST_F(SocketIoTest, EndOfStreamIsEof) {
  std::optional<ReadResult> first;
  startRead(4096, first);
  send("last");
  ASSERT_TRUE(runUntil(first));
  peer_.shutdown(tcp::socket::shutdown_send);
  std::optional<ReadResult> second;
  startRead(4096, second);
  ASSERT_TRUE(runUntil(second));
  EXPECT_EQ(second->ec, asio::error::eof);
  EXPECT_TRUE(second->data.empty());
}

// A short read can take the peer's FIN along with the data, and then no later event announces
// the end of the stream: the read after it must not wait for one. Three orders of arrival and
// epoll reports.

// Data and FIN in one report, collected while no read was queued (the proxy was busy with the
// other side of the connection).
TEST_F(SocketIoTest, AFinReportedWithTheDataIsSeenByTheNextRead) {
  std::optional<ReadResult> first;  // a first short read, so the socket was called empty once
  startRead(4096, first);
  send("hi");
  ASSERT_TRUE(runUntil(first));
  send("bye");
  peer_.shutdown(tcp::socket::shutdown_send);
  waitForFin();
  collectEvents();
  expectByeThenEof();
}

// The data's report is collected, then the FIN comes before the read: the read takes both, and
// the FIN's own report, still to be collected, wakes the read after it.
TEST_F(SocketIoTest, AFinThatCameAfterTheLatestReportIsSeenByTheNextRead) {
  std::optional<ReadResult> first;
  startRead(4096, first);
  send("hi");
  ASSERT_TRUE(runUntil(first));
  send("bye");
  ASSERT_TRUE(testing::waitFor([&] { return pendingBytes() == 3; }));
  collectEvents();
  peer_.shutdown(tcp::socket::shutdown_send);
  waitForFin();
  expectByeThenEof();
}

// A new connection whose data and FIN arrived before its first read, before any report.
TEST_F(SocketIoTest, AFinOnANewConnectionIsSeenByTheSecondRead) {
  send("bye");
  peer_.shutdown(tcp::socket::shutdown_send);
  waitForFin();
  expectByeThenEof();
}

TEST_F(SocketIoTest, CancellingTheSocketAbortsAPendingRead) {
  std::optional<ReadResult> r;
  startRead(4096, r);
  io_.restart();
  io_.poll();
  ASSERT_FALSE(r.has_value());
  local_.cancel();
  ASSERT_TRUE(runUntil(r));
  EXPECT_EQ(r->ec, asio::error::operation_aborted);
}

// A cancellation slot bound to the handler cancels this read only (awaitable operators rely
// on that to stop the losing branch).
TEST_F(SocketIoTest, ACancellationSignalAbortsThatReadOnly) {
  asio::cancellation_signal signal;
  std::optional<ReadResult> r;
  buffer_.assign(64, '\0');
  asyncReadSome(
      socketReactor(local_), local_, asio::buffer(buffer_),
      asio::bind_cancellation_slot(signal.slot(), [&r](boost::system::error_code ec, std::size_t) {
        r = ReadResult{ec, {}};
      }));
  io_.restart();
  io_.poll();
  ASSERT_FALSE(r.has_value());
  signal.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(runUntil(r));
  EXPECT_EQ(r->ec, asio::error::operation_aborted);

  // The socket is still usable: the next read gets the next bytes.
  std::optional<ReadResult> next;
  startRead(64, next);
  send("after");
  ASSERT_TRUE(runUntil(next));
  EXPECT_EQ(next->data, "after");
}

TEST_F(SocketIoTest, AClosedSocketAnswersBadDescriptorThroughTheExecutor) {
  local_.close();
  std::optional<ReadResult> r;
  startRead(4096, r);
  EXPECT_FALSE(r.has_value()) << "completed inline";
  ASSERT_TRUE(runUntil(r));
  EXPECT_EQ(r->ec, asio::error::bad_descriptor);
}

TEST_F(SocketIoTest, SendNowWritesEveryBufferAndAdvancesThem) {
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
  std::array<asio::const_buffer, 2> bufs = {asio::buffer(head), asio::buffer("ok", 2)};
  ASSERT_FALSE(sendNow(local_, bufs));
  EXPECT_EQ(asio::buffer_size(bufs), 0u);
  std::string got(head.size() + 2, '\0');
  asio::read(peer_, asio::buffer(got));
  EXPECT_EQ(got, head + "ok");
}

// A peer that does not read fills the socket: sendNow takes what fits and reports no error,
// leaving the rest in `bufs` for an async_write.
TEST_F(SocketIoTest, SendNowStopsAtAFullSocketWithoutAnError) {
  const std::string big(8 << 20, 'x');
  std::array<asio::const_buffer, 1> bufs = {asio::buffer(big)};
  ASSERT_FALSE(sendNow(local_, bufs));
  const std::size_t left = asio::buffer_size(bufs);
  EXPECT_GT(left, 0u);
  EXPECT_LT(left, big.size());
  ASSERT_FALSE(sendNow(local_, bufs)) << "a full socket is not an error";
  EXPECT_EQ(asio::buffer_size(bufs), left);
}

// Writing to a connection the peer reset is an error, and no SIGPIPE kills the process.
TEST_F(SocketIoTest, SendNowToAResetPeerIsAnErrorWithoutSigpipe) {
  peer_.set_option(asio::socket_base::linger(true, 0));
  peer_.close();  // RST
  std::string data = "x";
  boost::system::error_code ec;
  ASSERT_TRUE(testing::waitFor([&] {
    std::array<asio::const_buffer, 1> bufs = {asio::buffer(data)};
    ec = sendNow(local_, bufs);
    return static_cast<bool>(ec);
  }));
  EXPECT_TRUE(ec == asio::error::connection_reset || ec == asio::error::broken_pipe) << ec;
}

// An io_context destroyed with a read pending frees the operation without calling its handler
// (LeakSanitizer checks the freeing in the sanitized run).
TEST(SocketIoLifetime, DestroyingTheIoContextDropsAPendingRead) {
  bool called = false;
  auto handlerOwned = std::make_shared<int>(1);
  std::weak_ptr<int> watch = handlerOwned;
  {
    asio::io_context io{1};
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket peer(io);
    tcp::socket local(io);
    peer.connect(acceptor.local_endpoint());
    acceptor.accept(local);
    char buf[16];
    asyncReadSome(socketReactor(local), local, asio::buffer(buf),
                  [&called, owned = std::move(handlerOwned)](boost::system::error_code,
                                                             std::size_t) { called = true; });
    io.poll();
    ASSERT_FALSE(called);
    // Sockets close before the io_context (declaration order), which aborts the read; the
    // completion is queued and destroyed with the io_context.
  }
  EXPECT_FALSE(called);
  EXPECT_TRUE(watch.expired()) << "the pending read's handler was leaked";
}

}  // namespace
}  // namespace tessera::mesh::proxy
