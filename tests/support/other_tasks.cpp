// libshoal_test_tasks_other.so: another build of a task library, in which `square` has
// another signature than in libshoal_test_tasks.so. A worker that loads it beside workers
// that loaded that one is refused at registration (tests/integration/fidelity_test.cpp).

#include <string>

#include <shoal/remote/registry.hpp>

namespace shoal_test_tasks_other {

std::string square(std::string s) { return s + s; }
SHOAL_REMOTE(square)

}  // namespace shoal_test_tasks_other
