#include "shoal/worker/worker.hpp"

int main(int argc, char** argv) { return shoal::worker::worker_main(argc, argv); }
