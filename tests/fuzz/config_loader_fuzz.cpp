// Fuzz target: daemon::load_config, the top-level config loader (every
// section, secret references, devices, breakers, and the cross-checks against
// the rules and catalog it names). load_config reads a path, so each input is
// written to aiopsd.yaml in a private temporary directory, created once and
// removed at exit; the demo's rules and catalog are copied beside it
// (rules/demo.yaml, catalog/network.yaml) so that configs naming them, as the
// seeds do, load them too. Nothing is written anywhere else: load_config only
// reads.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "daemon/config.hpp"
#include "rules/config_error.hpp"
#include "rules/event.hpp"
#include "tests/fuzz/reused_state.hpp"

namespace {

namespace fs = std::filesystem;

fs::path& temp_dir() {
  static fs::path dir;
  return dir;
}

void remove_temp_dir() {
  std::error_code ec;
  if (!temp_dir().empty()) fs::remove_all(temp_dir(), ec);
}

const fs::path& config_path() {
  static const fs::path path = [] {
    std::string tmpl = (fs::temp_directory_path() / "aiopsd-fuzz-config-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    temp_dir() = tmpl;
    std::atexit(remove_temp_dir);
    const fs::path examples = AIOPSD_FUZZ_EXAMPLES_DIR;
    for (const char* f : {"rules/demo.yaml", "catalog/network.yaml"}) {
      fs::create_directories(temp_dir() / fs::path(f).parent_path());
      fs::copy_file(examples / f, temp_dir() / f, fs::copy_options::overwrite_existing);
    }
    return temp_dir() / "aiopsd.yaml";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aiopsd;
  const fs::path& path = config_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) std::abort();
  }
  // The Interner is passed in, as a reload does, and reused across inputs.
  struct State {
    std::shared_ptr<rules::Interner> interner = std::make_shared<rules::Interner>();
  };
  rules::ConfigErrors errors;
  auto cfg = daemon::load_config(path.string(), errors, fuzz::reused_state<State>().interner);
  if ((cfg == nullptr) == errors.empty()) {
    std::fprintf(stderr, "load_config: %s config with %zu errors\n", cfg ? "a" : "no",
                 errors.all().size());
    std::abort();
  }
  return 0;
}
