# The reactors with --threads 2 and 3 (docs/08-past-one-core.md): the
# shared suite, reactor_select's own tests and the shards' tests
# (shards_test.cpp) run on `<variant>_t2::server` and `<variant>_t3::server`,
# each the variant's server with that many shards (testing::with_shards):
# two, the smallest that crosses shards, and three, which catches an
# off-by-one in the choice of a shard. Each test is named
# "<test> - <variant>_t<N>::server" and labelled `shards` and
# `variant=<variant>_t<N>`: `ctest -L shards` runs only them.
#
# As in minimal.cmake, this executable finds the header generated from
# shards_variants.hpp.in first (in its shards/ build directory). The
# smoke tests are left out: they run the executables as a user would,
# with no --threads, which the reactors' own rows already do.
set(SHARDS_DECLARATIONS "")
set(types "")
set(select_types "")
foreach(variant IN LISTS ROUTER_VARIANTS)
  if(NOT ROUTER_${variant}_THREADS STREQUAL "sharded")
    continue()
  endif()
  foreach(n 2 3)
    string(APPEND SHARDS_DECLARATIONS
        "#include \"${variant}/server.hpp\"\n"
        "namespace ${variant}_t${n} {\n"
        "using server = testing::with_shards<${variant}::server, ${n}>;\n"
        "}  // namespace ${variant}_t${n}\n")
    list(APPEND types "${variant}_t${n}::server")
    if(variant STREQUAL "reactor_select")
      list(APPEND select_types "${variant}_t${n}::server")
    endif()
  endforeach()
endforeach()

if(types)
  list(JOIN types ", " SHARDS_TYPES)
  list(JOIN select_types ", " SHARDS_SELECT_TYPES)
  configure_file(shards_variants.hpp.in
      ${CMAKE_CURRENT_BINARY_DIR}/shards/variants.hpp @ONLY)
  set(shard_sources ${suite_sources} shards_test.cpp)
  list(REMOVE_ITEM shard_sources smoke_test.cpp)
  if(select_types)
    list(APPEND shard_sources reactor_select_test.cpp)
  endif()
  add_executable(shard_tests ${shard_sources})
  target_include_directories(shard_tests BEFORE PRIVATE
      ${CMAKE_CURRENT_BINARY_DIR}/shards)
  target_precompile_headers(shard_tests PRIVATE <catch2/catch.hpp>)
  target_link_libraries(shard_tests PRIVATE test_support)
  link_variants(shard_tests)
  add_variant_tests(shard_tests LABELS shards)
endif()
