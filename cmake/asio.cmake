# Standalone Asio ships neither a CMake nor a pkg-config file: wrap its headers in an
# INTERFACE target. It is installed with shoal's package because our public headers
# include Asio.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(shoal_asio INTERFACE)
target_include_directories(shoal_asio SYSTEM INTERFACE $<BUILD_INTERFACE:${ASIO_INCLUDE_DIR}>)
# ASIO_DISABLE_STD_ALIGNED_ALLOC: Asio would otherwise allocate every coroutine frame and
# handler with aligned_alloc (glibc memalign), about twice the cost of malloc, for an
# alignment malloc already gives. Measured on B1.
target_compile_definitions(shoal_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED ASIO_DISABLE_STD_ALIGNED_ALLOC)
target_link_libraries(shoal_asio INTERFACE Threads::Threads)
set_target_properties(shoal_asio PROPERTIES EXPORT_NAME asio)
add_library(shoal::asio ALIAS shoal_asio)
