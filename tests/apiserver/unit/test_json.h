// Helpers shared by the apiserver unit tests: JSON literals and matchers for FieldCause.
#pragma once

#include <gmock/gmock.h>

#include <boost/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

#include "apiserver/api_error.h"

namespace tessera::apiserver {

// Lets gtest print causes readably when an expectation fails.
inline void PrintTo(const FieldCause& c, std::ostream* os) {
  *os << "{" << c.reason << " at \"" << c.field << "\": " << c.message << "}";
}

namespace testutil {

/// Parses a JSON literal written in a test (throws on a typo, failing the test).
inline boost::json::value parseJson(std::string_view text) {
  return boost::json::parse(text);
}

inline boost::json::object parseObject(std::string_view text) {
  return boost::json::parse(text).as_object();
}

/// Matches a cause by reason and field path.
inline ::testing::Matcher<const FieldCause&> cause(const std::string& reason,
                                                   const std::string& field) {
  return ::testing::AllOf(::testing::Field("reason", &FieldCause::reason, reason),
                          ::testing::Field("field", &FieldCause::field, field));
}

/// Matches a cause by reason, field path and exact message.
inline ::testing::Matcher<const FieldCause&> cause(const std::string& reason,
                                                   const std::string& field,
                                                   const std::string& message) {
  return ::testing::AllOf(::testing::Field("reason", &FieldCause::reason, reason),
                          ::testing::Field("field", &FieldCause::field, field),
                          ::testing::Field("message", &FieldCause::message, message));
}

}  // namespace testutil
}  // namespace tessera::apiserver
