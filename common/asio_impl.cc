// The one translation unit that compiles Boost.Asio and Boost.Beast (separate compilation,
// see BOOST_ASIO_SEPARATE_COMPILATION in the root CMakeLists.txt). Keeping their
// implementation out of every other file is most of what keeps the clean build fast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
