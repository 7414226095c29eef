// The reactor's private members socket_io.h relies on, reached in this one file.
#include "mesh/proxy/socket_io.h"

#include <sys/epoll.h>

#include <cstdint>

namespace tessera::mesh::proxy::socket_io_detail {
namespace {

// Access is not checked for the names in an explicit instantiation ([temp.spec.general]/6),
// so the instantiations of Member below hand out pointers to three private members through
// get(). An explicit instantiation may appear once in a program: here.
//   epoll_fd_          the reactor's epoll instance, to add EPOLLRDHUP to a registration;
//   registered_events_ what the reactor registered for the socket: it re-registers that set
//                      whenever it adds EPOLLOUT, so EPOLLRDHUP must be in it to stay;
//   task_result_       the events of the socket's latest epoll report (the reactor sets it
//                      for every report and passes it on to perform_io()).
struct EpollFd {
  using type = int ad::epoll_reactor::*;
  friend type get(EpollFd);
};
struct RegisteredEvents {
  using type = std::uint32_t DescriptorState::*;
  friend type get(RegisteredEvents);
};
struct ReportedEvents {
  using type = unsigned int ad::scheduler_operation::*;
  friend type get(ReportedEvents);
};
template <typename Tag, typename Tag::type kMember>
struct Member {
  friend typename Tag::type get(Tag) { return kMember; }
};

template struct Member<EpollFd, &ad::epoll_reactor::epoll_fd_>;
template struct Member<RegisteredEvents, &DescriptorState::registered_events_>;
template struct Member<ReportedEvents, &ad::scheduler_operation::task_result_>;

}  // namespace

void watchPeerClose(ad::epoll_reactor* reactor, DescriptorState* state, int fd) {
  std::uint32_t& registered = state->*get(RegisteredEvents{});
  if (registered == 0 || (registered & EPOLLRDHUP) != 0) return;
  epoll_event ev{};
  ev.events = registered | EPOLLRDHUP;
  ev.data.ptr = state;
  if (::epoll_ctl(reactor->*get(EpollFd{}), EPOLL_CTL_MOD, fd, &ev) == 0) registered = ev.events;
}

bool peerCloseUnseen(const DescriptorState* state) {
  constexpr unsigned int kClosed = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  // descriptor_state derives privately from the operation that holds the events; a C-style
  // cast may name an inaccessible base.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-cstyle-cast,google-readability-casting)
  const auto* reported = (const ad::scheduler_operation*)state;
  return ((state->*get(RegisteredEvents{})) & EPOLLRDHUP) != 0 &&
         ((reported->*get(ReportedEvents{})) & kClosed) == 0;
}

}  // namespace tessera::mesh::proxy::socket_io_detail
