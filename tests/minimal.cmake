# The minimal versions (<variant>/minimal.cpp, the article's size) under the
# suite's protocol tests: routing, protocol errors, disconnects and the
# executable's contract. Not the tests of what they deliberately lack
# (--max-pending, --write-timeout, load, the stress tests). Each test is
# named "<test> - <variant>_minimal::server" and labelled `minimal` and
# `variant=<variant>_minimal`: `ctest -L minimal` runs only them, and a
# plain `ctest` runs them with the rest.
#
# The test files include "variants.hpp" for ROUTER_VARIANTS; this
# executable finds the generated minimal/variants.hpp first, which lists
# the minimal versions (tests/minimal_server.hpp) instead of the servers.
set(MINIMAL_DECLARATIONS "")
set(types "")
foreach(variant IN LISTS ROUTER_VARIANTS)
  string(COMPARE EQUAL "${ROUTER_${variant}_THREADS}" multi-threaded
      threaded)  # 1 or 0
  # What the executable's variant_info says (its --help), for the smoke
  # tests: --max-pending never applies to a minimal version.
  string(APPEND MINIMAL_DECLARATIONS
      "namespace ${variant}_minimal {\n"
      "inline constexpr common::variant_info info{\n"
      "    .name = \"${variant}_minimal\", .model = \"\",\n"
      "    .multi_threaded = ${threaded}, .queues = false,\n"
      "    .demo_flag = \"\", .demo_help = \"\"};\n"
      "using server = testing::minimal_server<info>;\n"
      "}  // namespace ${variant}_minimal\n")
  list(APPEND types "${variant}_minimal::server")
endforeach()
list(JOIN types ", " MINIMAL_TYPES)
configure_file(minimal_variants.hpp.in
    ${CMAKE_CURRENT_BINARY_DIR}/minimal/variants.hpp @ONLY)

add_executable(minimal_tests
    routing_test.cpp
    protocol_error_test.cpp
    disconnect_test.cpp
    vanish_test.cpp
    smoke_test.cpp)
target_include_directories(minimal_tests BEFORE PRIVATE
    ${CMAKE_CURRENT_BINARY_DIR}/minimal)
target_precompile_headers(minimal_tests PRIVATE <catch2/catch.hpp>)
target_link_libraries(minimal_tests PRIVATE test_support)
foreach(variant IN LISTS ROUTER_VARIANTS)
  add_dependencies(minimal_tests ${variant}_minimal)
endforeach()
add_variant_tests(minimal_tests LABELS minimal)
