// Where the e2e tests find the sample drivers and the kemu binary (compile
// definitions from kemu_add_test, tests/CMakeLists.txt).
#pragma once

#include <string>

namespace kemu::e2e {

// ${KEMU_SAMPLES_DIR}/<name>.sys
inline std::string sample(const std::string& name) {
  return std::string(KEMU_SAMPLES_DIR) + "/" + name + ".sys";
}

// ${CMAKE_BINARY_DIR}/kemu
inline std::string kemu_binary() {
  return std::string(KEMU_BINARY_DIR) + "/kemu";
}

}  // namespace kemu::e2e
