#include "shoal/coordinator/coordinator.hpp"

int main(int argc, char** argv) { return shoal::coordinator::coordinator_main(argc, argv); }
