#pragma once
/// \file
/// Everything a program that submits remote tasks, or registers them for workers, needs in
/// one include: shoal.hpp (the in-process runtime) and the remote layer (Client, Actor,
/// ObjectRef, SHOAL_REMOTE registration, this_task for plain tasks, the remote errors).

#include "shoal/shoal.hpp"
#include "shoal/remote/binders.hpp"
#include "shoal/remote/client.hpp"
#include "shoal/remote/entries.hpp"
#include "shoal/remote/errors.hpp"
#include "shoal/remote/object_ref.hpp"
#include "shoal/remote/registry.hpp"
#include "shoal/remote/this_task.hpp"
