// Fuzz target: the rules loader (rules::load_rules_text: YAML, matchers,
// durations, templates with their parameter patterns, actions), and, when the
// text looks like an action catalog, rules::load_catalog_text. Any text: no
// crash, no leak, no sanitizer report; every error it reports is located in
// the file it was given. The Interner is reused across inputs (reused_state.hpp).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "rules/action_catalog.hpp"
#include "rules/config_error.hpp"
#include "rules/event.hpp"
#include "rules/rule.hpp"
#include "tests/fuzz/reused_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aiopsd;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto check = [](const rules::ConfigErrors& errors) {
    for (const auto& e : errors.all()) {
      if (e.file != "fuzz.yaml" || e.message.empty()) {
        std::fprintf(stderr, "badly located error: %s\n", e.to_string().c_str());
        std::abort();
      }
    }
  };
  {
    rules::Interner& interner = fuzz::reused_state<rules::Interner>();
    rules::RuleSet set;
    rules::ConfigErrors errors("fuzz.yaml");
    rules::load_rules_text(text, "fuzz.yaml", interner, set, errors);
    check(errors);
  }
  if (text.find("actions") != std::string::npos) {
    rules::ActionCatalog catalog;
    rules::ConfigErrors errors("fuzz.yaml");
    rules::load_catalog_text(text, "fuzz.yaml", catalog, errors);
    check(errors);
  }
  return 0;
}
