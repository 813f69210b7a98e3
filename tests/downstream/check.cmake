# Installs the built tree into a temporary prefix, then configures, builds and runs a
# separate project that finds it with find_package(shoal CONFIG REQUIRED).
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/downstream -B ${WORK_DIR}/build
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
  RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the downstream project failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the downstream project failed (${rc})")
endif()
execute_process(COMMAND ${WORK_DIR}/build/downstream OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(rc OR NOT out MATCHES "downstream: 42")
  message(FATAL_ERROR "the downstream program failed (${rc}): ${out}")
endif()
execute_process(COMMAND ${WORK_DIR}/build/downstream_remote OUTPUT_VARIABLE out2 RESULT_VARIABLE rc)
if(rc OR NOT out2 MATCHES "remote: 42 downstream")
  message(FATAL_ERROR "the downstream shoal::remote program failed (${rc}): ${out2}")
endif()
message(STATUS "downstream project built and ran: ${out} ${out2}")
