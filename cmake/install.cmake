include(CMakePackageConfigHelpers)

set(shoal_install_targets shoal_errors shoal_runtime shoal_asio shoal_proto shoal_codec shoal_link)
foreach(t shoal_remote shoal_task_library shoal_coordinator shoal_worker shoal_cluster)
  if(TARGET ${t})
    list(APPEND shoal_install_targets ${t})
  endif()
endforeach()
install(TARGETS ${shoal_install_targets} EXPORT shoalTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY runtime/include/shoal runtime/errors/include/shoal runtime/codec/include/shoal
  runtime/link/include/shoal runtime/remote/include/shoal proto/include/shoal coordinator/include/shoal worker/include/shoal
  cluster/include/shoal DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The daemons, the CLI, and the example task library the CLI loads by default
# (<prefix>/lib/libshoal_examples.so, beside <prefix>/bin/shoal).
foreach(t shoal shoal-worker shoal-coordinator)
  if(TARGET ${t})
    install(TARGETS ${t} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()
if(TARGET shoal_examples)
  install(TARGETS shoal_examples LIBRARY DESTINATION lib)
endif()
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
