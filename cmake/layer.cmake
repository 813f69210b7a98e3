# shoal_layer(NAME PUBLIC deps... [PRIVATE deps...]): one layer of runtime/ as a library
# shoal::NAME (target shoal_NAME) from the src/*.cpp and include/ of the calling folder.
function(shoal_layer name)
  cmake_parse_arguments(L "" "" "PUBLIC;PRIVATE" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  add_library(shoal_${name} ${sources})
  add_library(shoal::${name} ALIAS shoal_${name})
  set_target_properties(shoal_${name} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME shoal_${name})
  target_include_directories(shoal_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(shoal_${name} PUBLIC ${L_PUBLIC} PRIVATE ${L_PRIVATE} $<BUILD_INTERFACE:shoal_build_flags>)
endfunction()
