// Everything a program needs to use Baton: tasks, flows, futures, parameters, logging,
// artifacts, variables and the deployment entry point. See docs/sdk.md.
#pragma once

#include "baton/artifacts.h"
#include "baton/engine.h"
#include "baton/error.h"
#include "baton/flow.h"
#include "baton/future.h"
#include "baton/logger.h"
#include "baton/main.h"
#include "baton/params.h"
#include "baton/serialization.h"
#include "baton/state.h"
#include "baton/task.h"
#include "baton/variables.h"
#include "baton/version.h"
