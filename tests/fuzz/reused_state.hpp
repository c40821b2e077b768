#pragma once
// Per-target state reused across inputs, the way the daemon reuses it (one
// decoder and one Interner per thread), and replaced every kInputs inputs.
//
// Why not fresh per input: an Interner (1 MiB of chunk table) and a
// decoder's InternCache (2 MiB of slots) are zero-filled on construction;
// under ASan that page-faulting dominated, 32 inputs/s instead of thousands.
// Why not forever: the Interner keeps every distinct string (by design today,
// issue 11 section 3), so a campaign of millions of inputs would only measure
// that growth. What is shared between inputs is symbol ids and the intern
// cache: no decision of the code under test depends on which id a string got,
// and each target checks its own invariants on every input, so a crash
// reproduces from the one input (libFuzzer's `./fuzz_x crash-file`).

#include <cstddef>
#include <memory>

namespace aiopsd::fuzz {

template <class State>
State& reused_state() {
  static constexpr std::size_t kInputs = 4096;
  static std::unique_ptr<State> state;
  static std::size_t uses = 0;
  if (!state || ++uses % kInputs == 0) {
    state.reset();
    state = std::make_unique<State>();
  }
  return *state;
}

}  // namespace aiopsd::fuzz
