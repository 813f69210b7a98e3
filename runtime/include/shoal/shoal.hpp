#pragma once
/// \file
/// Everything shoal offers in one include.

#include "shoal/compose/as_completed.hpp"
#include "shoal/compose/gather.hpp"
#include "shoal/compose/outcome.hpp"
#include "shoal/compose/shield.hpp"
#include "shoal/compose/task_group.hpp"
#include "shoal/compose/to_thread.hpp"
#include "shoal/compose/wait.hpp"
#include "shoal/compose/wait_for.hpp"
#include "shoal/core/coro.hpp"
#include "shoal/core/error.hpp"
#include "shoal/core/future.hpp"
#include "shoal/core/loop.hpp"
#include "shoal/core/sleep.hpp"
#include "shoal/core/task.hpp"
#include "shoal/exec/thread_pool.hpp"
