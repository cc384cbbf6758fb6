#pragma once
// Reads a TOML file into the format-neutral ConfigNode tree (core/config.h), expanding ${VAR} and
// ${VAR:-default} inside string values. The only place toml++ is used; its exceptions stop here.
#include <functional>
#include <string>

#include "core/config.h"

namespace pf {

// Looks up an environment variable; returns false when unset. Replaceable in tests.
using EnvLookup = std::function<bool(const std::string& name, std::string* value)>;
EnvLookup ProcessEnv();

// Parses TOML text; file names the origin in every error ("plant.toml:12: ...").
Result<ConfigNode> ParseConfigText(const std::string& text, const std::string& file, const EnvLookup& env);
Result<ConfigNode> LoadConfigFile(const std::string& path, const EnvLookup& env = ProcessEnv());

// Expands ${VAR} and ${VAR:-default} in s; "$$" is a literal '$'. Error names the variable.
Result<std::string> ExpandEnv(const std::string& s, const EnvLookup& env, bool* changed = nullptr);

}  // namespace pf
