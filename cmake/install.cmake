include(CMakePackageConfigHelpers)

set(shoal_install_targets shoal_runtime shoal_asio shoal_proto)
if(TARGET shoal_remote)
  list(APPEND shoal_install_targets shoal_remote)
endif()
install(TARGETS ${shoal_install_targets} EXPORT shoalTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY runtime/include/shoal proto/include/shoal DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The generated Cap'n Proto header, and the schema for other languages' peers.
install(FILES ${PROJECT_BINARY_DIR}/proto/shoal/proto/shoal.capnp.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/shoal/proto)
install(FILES proto/schema/shoal.capnp DESTINATION ${CMAKE_INSTALL_DATADIR}/shoal)
install(EXPORT shoalTargets NAMESPACE shoal:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shoal)

configure_package_config_file(cmake/shoalConfig.cmake.in
  ${PROJECT_BINARY_DIR}/shoalConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shoal)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/shoalConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/shoalConfig.cmake ${PROJECT_BINARY_DIR}/shoalConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shoal)
