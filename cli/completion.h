// Shell completion scripts generated from the real command tree (CLI11 2.1 has no generator).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "libstore/common/status.h"

namespace cairn::cli {

// Returns the completion script for shell "bash", "zsh" or "fish" (kInvalidArgument otherwise).
Result<std::string> GenerateCompletion(const CLI::App& app, const std::string& shell);

}  // namespace cairn::cli
