#include "shoal/worker/replay.hpp"

#include <filesystem>
#include <iostream>

#include "shoal/codec/error_info.hpp"
#include "shoal/link/private_files.hpp"
#include "shoal/remote/map.hpp"
#include "shoal/remote/registry.hpp"
#include "shoal/remote/replay.hpp"
#include "shoal/worker/loader.hpp"

namespace shoal::worker {

int replay_child(const std::string& bundle, const std::string& out, const std::vector<std::string>& loads,
                 bool load_bundle_libraries) {
  remote::ReplayBundle b;
  try {
    b = remote::load_bundle(bundle);
    for (const auto& lib : loads) (void)load_task_library(lib);
    if (load_bundle_libraries && loads.empty())
      for (const auto& lib : b.libraries) {
        std::error_code ec;
        if (!std::filesystem::exists(lib, ec))
          throw Error("the task library " + lib + " its worker loaded is not here: give it with --load PATH");
        (void)load_task_library(lib);
      }
    remote::Registry::global().verify();
    (void)remote::replay_entry(b);
  } catch (const std::exception& e) {
    std::cerr << "shoal replay: " << e.what() << std::endl;
    return 3;
  }
  remote::MapOutcome outcome;
  try {
    outcome.value = remote::run_replay(b);
  } catch (...) {
    outcome.error = codec::describe_error(std::current_exception(), b.function, b.task_id);
  }
  try {
    auto bytes = codec::encode(outcome);
    link::write_private_file(out, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  } catch (const std::exception& e) {
    std::cerr << "shoal replay: cannot write the outcome: " << e.what() << std::endl;
    return 3;
  }
  return outcome.error ? 1 : 0;
}

}  // namespace shoal::worker
