// A stand-in for libFuzzer's main when the build has no libFuzzer (the gcc
// `dev` preset): runs every file of the seed corpus through the target, then
// a bounded number of pseudo-random mutations of them. Deterministic for a
// given seed, so a failure in ctest reproduces with the same command line.
// It takes libFuzzer's flag spelling, so one ctest command serves both builds:
//
//   fuzz_render [-runs=N] [-seed=S] [-max_len=BYTES] [-max_total_time=SECONDS] PATH...
//
// PATH is a corpus directory (every regular file in it, in name order) or a
// file. No coverage feedback: this is a smoke test that keeps the targets
// building and catches gross breakage under ASan+UBSan, not a fuzzer.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

// splitmix64: small, fast, and the same sequence on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t state_;
};

// Bytes that tend to matter to the parsers under test: JSON and YAML
// structure, template braces, the field separator of fuzz_input.hpp, line
// breaks, NUL, C1 controls and Unicode line separators, big numbers.
constexpr std::array<std::string_view, 24> kTokens = {"\\",
                                                      "\\\\",
                                                      "{{",
                                                      "}}",
                                                      "\"",
                                                      "{",
                                                      "}",
                                                      "[",
                                                      "]",
                                                      ":",
                                                      ",",
                                                      "\n",
                                                      "\r\n",
                                                      "- ",
                                                      std::string_view("\0", 1),
                                                      "\xc2\x85",
                                                      "\xe2\x80\xa8",
                                                      "\xe2\x80\xa9",
                                                      "\x7f",
                                                      "\xff",
                                                      "-1",
                                                      "18446744073709551616",
                                                      "1e999",
                                                      "&a *a"};

void mutate(std::string& s, const std::vector<std::string>& corpus, Rng& rng, std::size_t max_len) {
  const std::size_t steps = 1 + rng.below(4);
  for (std::size_t i = 0; i < steps; ++i) {
    switch (rng.below(8)) {
      case 0:  // flip a bit
        if (!s.empty()) s[rng.below(s.size())] ^= static_cast<char>(1u << rng.below(8));
        break;
      case 1:  // set a byte
        if (!s.empty()) s[rng.below(s.size())] = static_cast<char>(rng.next());
        break;
      case 2:  // insert a byte
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(rng.below(s.size() + 1)),
                 static_cast<char>(rng.next()));
        break;
      case 3: {  // erase a range
        if (s.empty()) break;
        std::size_t at = rng.below(s.size());
        s.erase(at, 1 + rng.below(std::min<std::size_t>(16, s.size() - at)));
        break;
      }
      case 4: {  // duplicate a range
        if (s.empty()) break;
        std::size_t at = rng.below(s.size());
        std::string part = s.substr(at, 1 + rng.below(64));
        s.insert(rng.below(s.size() + 1), part);
        break;
      }
      case 5:  // insert a token
        s.insert(rng.below(s.size() + 1), kTokens[rng.below(kTokens.size())]);
        break;
      case 6: {  // splice in a piece of another input
        const std::string& other = corpus[rng.below(corpus.size())];
        if (other.empty()) break;
        std::size_t from = rng.below(other.size());
        s.insert(rng.below(s.size() + 1), other.substr(from, 1 + rng.below(256)));
        break;
      }
      default:  // truncate
        s.resize(rng.below(s.size() + 1));
        break;
    }
  }
  if (s.size() > max_len) s.resize(max_len);
}

bool flag(std::string_view arg, std::string_view name, std::uint64_t& value) {
  if (!arg.starts_with(name)) return false;
  value = std::strtoull(std::string(arg.substr(name.size())).c_str(), nullptr, 10);
  return true;
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t runs = 2000, seed = 1, max_len = 65536, max_total_time = 0;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (flag(arg, "-runs=", runs) || flag(arg, "-seed=", seed) || flag(arg, "-max_len=", max_len) ||
        flag(arg, "-max_total_time=", max_total_time)) {
      continue;
    }
    if (arg.starts_with("-")) {
      std::fprintf(stderr, "standalone fuzz driver: ignoring %s\n", argv[i]);
      continue;
    }
    fs::path p(arg);
    if (fs::is_directory(p)) {
      std::vector<fs::path> in_dir;
      for (const auto& e : fs::directory_iterator(p)) {
        if (e.is_regular_file()) in_dir.push_back(e.path());
      }
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "standalone fuzz driver: no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }

  std::vector<std::string> corpus;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (corpus.back().size() > max_len) corpus.back().resize(max_len);
  }
  if (corpus.empty()) corpus.emplace_back();

  const auto start = std::chrono::steady_clock::now();
  for (const auto& input : corpus) run(input);
  run("");

  Rng rng(seed);
  std::uint64_t done = 0;
  for (; done < runs; ++done) {
    if (max_total_time != 0 && done % 64 == 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::seconds(max_total_time)) {
      break;
    }
    std::string input = corpus[rng.below(corpus.size())];
    mutate(input, corpus, rng, max_len);
    run(input);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("standalone fuzz driver: %zu corpus inputs, %llu mutations (seed %llu) in %.2f s\n",
              corpus.size(), static_cast<unsigned long long>(done),
              static_cast<unsigned long long>(seed), secs);
  return 0;
}
