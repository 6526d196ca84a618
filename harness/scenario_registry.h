// The scenario's `registry:` key (docs/cli.md): key paths (relative to the
// driver's service key, or absolute \Registry\...) mapping value names to
// typed values, read into RegistrySeeds before the driver runs.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "harness/registry_seed.h"

namespace kemu::harness {

// Throws ScenarioError ("FILE:LINE: what is wrong") for a malformed key,
// value form, type or number.
std::vector<RegistrySeed> parse_registry_seeds(const std::string& file, const YAML::Node& registry);

}  // namespace kemu::harness
