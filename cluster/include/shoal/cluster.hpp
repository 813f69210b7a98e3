#pragma once
/// \file
/// Everything shoal offers a program in one include: shoal/remote.hpp (the runtime and the
/// remote layer) and the cluster layer (LocalCluster, ProcessPoolExecutor, Process, the
/// multiprocessing queue, spawn).

#include "shoal/remote.hpp"
#include "shoal/cluster/child.hpp"
#include "shoal/cluster/local_cluster.hpp"
#include "shoal/cluster/mp_queue.hpp"
#include "shoal/cluster/process.hpp"
#include "shoal/cluster/process_pool.hpp"
#include "shoal/cluster/spawn.hpp"
