#include "shoal/cluster/sim.hpp"

int main(int argc, char** argv) { return shoal::sim::sim_main(argc, argv); }
