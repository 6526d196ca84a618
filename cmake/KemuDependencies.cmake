# Every dependency comes from a Debian 12 package (scripts/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)
pkg_check_modules(UNICORN REQUIRED IMPORTED_TARGET unicorn>=2.0)
pkg_check_modules(CAPSTONE REQUIRED IMPORTED_TARGET capstone)

# liblief-dev 0.9 ships neither a CMake package nor a pkg-config file.
find_path(LIEF_INCLUDE_DIR LIEF/LIEF.hpp REQUIRED)
find_library(LIEF_LIBRARY NAMES LIEF REQUIRED)
add_library(kemu_lief INTERFACE)
target_include_directories(kemu_lief SYSTEM INTERFACE ${LIEF_INCLUDE_DIR})
target_link_libraries(kemu_lief INTERFACE ${LIEF_LIBRARY})

find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(GTest REQUIRED)
if(KEMU_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
