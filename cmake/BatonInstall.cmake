# `cmake --install <build> --prefix <dir>` installs the SDK for other projects and the `baton` CLI:
#
#   find_package(baton 0.1 REQUIRED)
#   target_link_libraries(my_flows PRIVATE baton::sdk)        # flows, tasks, futures, baton::main
#   target_link_libraries(my_tool PRIVATE baton::schedules)   # cron, interval and RRULE schedules
#
# Only the public headers (include/baton) are installed; the static libraries below them are
# exported so that a consumer links what the SDK needs, and batonConfig.cmake finds the same Debian
# packages this build used. tests/install builds a consumer against an installed tree.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(BATON_EXPORTED_LIBRARIES baton_model baton_orchestration baton_storage baton_client baton_core)
if(TARGET baton_schedules)
  list(APPEND BATON_EXPORTED_LIBRARIES baton_schedules)
endif()
# baton::<layer> inside this build; the SDK's library is exported as baton::sdk.
foreach(lib IN LISTS BATON_EXPORTED_LIBRARIES)
  string(REPLACE "baton_" "" _export_name ${lib})
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${_export_name})
endforeach()
set_target_properties(baton_core PROPERTIES EXPORT_NAME sdk)

# A sanitized build's libraries need the sanitizer's runtime in whatever links them, and the
# consumer's own code (the SDK's templates are compiled there) instrumented the same way: TSan
# reports false races between instrumented and uninstrumented code.
if(BATON_SANITIZE)
  list(JOIN BATON_SANITIZE "," _baton_installed_sanitizers)
  target_compile_options(baton_model INTERFACE
                         $<INSTALL_INTERFACE:-fsanitize=${_baton_installed_sanitizers}>)
  target_link_options(baton_model INTERFACE
                      $<INSTALL_INTERFACE:-fsanitize=${_baton_installed_sanitizers}>)
endif()

install(TARGETS ${BATON_EXPORTED_LIBRARIES} EXPORT batonTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/baton DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET baton)
  install(TARGETS baton RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(BATON_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/baton)
install(EXPORT batonTargets NAMESPACE baton:: DESTINATION ${BATON_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/batonConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/batonConfig.cmake
                              INSTALL_DESTINATION ${BATON_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/batonConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/batonConfig.cmake ${PROJECT_BINARY_DIR}/batonConfigVersion.cmake
        DESTINATION ${BATON_CMAKE_DIR})
