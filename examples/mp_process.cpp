// The seed's multiprocessing example (python-concurrency-notes.txt):
//
//     processes = [multiprocessing.Process(cpu_intensive_fn, args=[filename]) for file in filenames]
//     for p in processes: p.start()      # now has p.pid, p.is_alive()
//     for p in processes: p.join()       # see p.exitcode
//     # data can be returned via IPC like pipe or Queue
//
// Here: one child process per file counts its words (CPU work, no GIL to fight anyway)
// and sends the count back through an mp::Queue; the parent joins them and checks exit
// codes. Run: mp_process FILE...  (default: the files in examples/data).

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "shoal/cluster/process.hpp"

// Runs in the child: count the words of `path`, send (path, count) to the parent.
void count_words(std::string path, shoal::mp::Queue<std::tuple<std::string, std::int64_t>> out) {
  std::ifstream in(path);
  if (!in) throw shoal::Error("cannot open " + path);
  std::int64_t n = 0;
  std::string word;
  while (in >> word) ++n;
  out.put({path, n});
}
SHOAL_REMOTE(count_words)

int main(int argc, char** argv) {
  std::vector<std::string> files(argv + 1, argv + argc);
  if (files.empty())
    for (auto& e : std::filesystem::directory_iterator(SHOAL_EXAMPLES_DATA_DIR))
      if (e.path().extension() == ".txt") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());

  shoal::mp::Queue<std::tuple<std::string, std::int64_t>> results;
  std::vector<shoal::Process> processes;
  for (auto& f : files) processes.emplace_back(&count_words, f, std::ref(results));
  for (auto& p : processes) {
    p.start();
    std::cout << "started " << p.name() << " for a file: pid " << p.pid() << (p.is_alive() ? ", alive" : "") << "\n";
  }
  std::int64_t total = 0;
  std::size_t ok = 0;
  for (auto& p : processes) {
    p.join();
    if (p.exitcode() == 0) ++ok;
  }
  for (std::size_t i = 0; i < ok; ++i) {
    auto [path, n] = results.get(true, std::chrono::seconds(5));
    std::cout << std::filesystem::path(path).filename().string() << ": " << n << " words\n";
    total += n;
  }
  std::cout << ok << " of " << processes.size() << " processes exited 0; " << total << " words in all\n";
  return ok == processes.size() ? 0 : 1;
}
