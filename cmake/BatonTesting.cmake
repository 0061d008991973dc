# baton_add_test(<name> SOURCES <files...> LIBS <targets...> [LABELS <labels...>])
# One GoogleTest executable; each TEST becomes a CTest test carrying LABELS (default: fast).
# Tests run with BATON_HOME pointed at a fresh folder under the build tree, never the user's.
function(baton_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS fast)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main baton_build_settings)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)  # tests/eventually.h
  target_compile_definitions(${name} PRIVATE
    BATON_SOURCE_DIR="${PROJECT_SOURCE_DIR}" BATON_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${name}
    PROPERTIES LABELS "${ARG_LABELS}"
               ENVIRONMENT "BATON_HOME=${CMAKE_CURRENT_BINARY_DIR}/${name}_home"
    DISCOVERY_TIMEOUT 60)
endfunction()
