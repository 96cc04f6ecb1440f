// Access to ../shared (real corpora present on the team's machines and in CI, never on a user's).
// Tests that need it call shared_corpus(), which skips the test cleanly when it is absent.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

namespace charnn::test {

inline std::filesystem::path shared_corpus(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(CHARNN_SHARED_DIR) / "corpora" / name;
  return p;
}

// True when the corpus exists; otherwise emits a WARN so the run shows why it was skipped.
inline bool have_shared_corpus(const std::string& name) {
  if (std::filesystem::exists(shared_corpus(name))) return true;
  WARN("skipped: " << shared_corpus(name).string() << " is absent");
  return false;
}

}  // namespace charnn::test
