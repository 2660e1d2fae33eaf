// error_of(f): the message of the exception `f` throws, for tests that check what an error
// says. Only exceptions of type E (std::invalid_argument unless told otherwise) are caught;
// any other type propagates and fails the test. Returns "(no error)" when nothing is thrown.
#pragma once
#include <exception>
#include <stdexcept>
#include <string>

namespace dagrad::test_util {

template <typename E = std::invalid_argument, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace dagrad::test_util
