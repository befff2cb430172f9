# The minimal versions (<variant>/minimal.cpp, the article's size) under
# the suite's protocol tests: routing, protocol errors, disconnects and the
# executable's contract; and minimal_queue_test.cpp, what those that queue
# must get right without a bound. Not the tests of what they deliberately
# lack (--max-pending, --write-timeout, the slow consumer, the stress
# tests, the limits, the wrap of the id counter, the half-close:
# ROUTER_MINIMAL_VERSIONS in minimal_variants.hpp.in), nor load_test.cpp: under TSan, reactor_select's minimal race
# (work for every connection per event, one event per round) takes 4 to
# 7 s of its 10 s deadline with 120 clients. Each test is named
# "<test> - <variant>_minimal::server" and labelled `minimal` and
# `variant=<variant>_minimal`: `ctest -L minimal` runs only them, and a
# plain `ctest` runs them with the rest.
#
# The test files take ROUTER_VARIANTS from the header generated from
# variants.hpp.in; this executable finds the one generated from
# minimal_variants.hpp.in first (in its minimal/ build directory), which
# lists the minimal versions (tests/minimal_server.hpp) instead of the
# servers.
set(MINIMAL_DECLARATIONS "")
set(types "")
set(queuing "")
foreach(variant IN LISTS ROUTER_VARIANTS)
  string(COMPARE EQUAL "${ROUTER_${variant}_THREADS}" multi-threaded
      threaded)  # 1 or 0
  # What the executable's variant_info says (its --help), for the smoke
  # tests: the limits' options never apply to a minimal version.
  string(APPEND MINIMAL_DECLARATIONS
      "namespace ${variant}_minimal {\n"
      "inline constexpr common::variant_info info{\n"
      "    .name = \"${variant}_minimal\", .model = \"\",\n"
      "    .multi_threaded = ${threaded}, .queues = false,\n"
      "    .demo_flag = \"\", .demo_help = \"\", .minimal = true};\n"
      "using server = testing::minimal_server<info>;\n"
      "}  // namespace ${variant}_minimal\n")
  list(APPEND types "${variant}_minimal::server")
  if(ROUTER_${variant}_SLOW_READER STREQUAL "queuing")
    list(APPEND queuing "${variant}_minimal::server")
  endif()
endforeach()
list(JOIN types ", " MINIMAL_TYPES)
list(JOIN queuing ", " MINIMAL_QUEUING_TYPES)
configure_file(minimal_variants.hpp.in
    ${CMAKE_CURRENT_BINARY_DIR}/minimal/variants.hpp @ONLY)

add_executable(minimal_tests
    routing_test.cpp
    protocol_error_test.cpp
    disconnect_test.cpp
    vanish_test.cpp
    smoke_test.cpp
    minimal_queue_test.cpp)
target_include_directories(minimal_tests BEFORE PRIVATE
    ${CMAKE_CURRENT_BINARY_DIR}/minimal)
target_precompile_headers(minimal_tests PRIVATE <catch2/catch.hpp>)
target_link_libraries(minimal_tests PRIVATE test_support)
foreach(variant IN LISTS ROUTER_VARIANTS)
  add_dependencies(minimal_tests ${variant}_minimal)
endforeach()
add_variant_tests(minimal_tests LABELS minimal)

# The load generator's smoke test (bench/loadgen_smoke.sh), as for the
# servers: a short closed-loop run must verify every frame, stall none.
foreach(variant IN LISTS ROUTER_VARIANTS)
  add_test(NAME loadgen_smoke::${variant}_minimal
      COMMAND bash ${PROJECT_SOURCE_DIR}/bench/loadgen_smoke.sh
          $<TARGET_FILE:loadgen> $<TARGET_FILE:${variant}_minimal>)
  set_tests_properties(loadgen_smoke::${variant}_minimal PROPERTIES
      TIMEOUT 60 ENVIRONMENT "ROUTER_LOG=quiet"
      LABELS "minimal;variant=${variant}_minimal")
endforeach()
