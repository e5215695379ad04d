// The pieces of JSON text the apps write by hand (run summaries, the options, the config that
// a checkpoint must match on --resume): one writer, so every such file is valid JSON.
//
//   out << "{\"lr\":" << json_number(lr) << ",\"model\":" << json_string(model) << "}";
#pragma once
#include <string>

namespace pmx::apps {

// `text` as a JSON string, quotes included: '"' and '\' escaped, control characters as \n, \t,
// ... or \u00XX; valid UTF-8 kept as is, each byte that is not part of it written as \ufffd.
std::string json_string(const std::string& text);

// `v` as a JSON number: the shortest %g form, of at least 6 significant digits, that reads back
// as exactly v (so 0.001 -> 0.001, 1e6 -> 1e+06, as std::ostream writes them, and
// 0.1 + 0.2 -> 0.30000000000000004); null for NaN and +-infinity, which JSON has no numbers for.
std::string json_number(double v);

}  // namespace pmx::apps
