// The .npy writer: the header parses as numpy's format 1.0 says, data reads back bit for bit,
// and a failed or incomplete write leaves no file behind.
#include <charnn/atomic_file.hpp>
#include <charnn/error.hpp>
#include <charnn/npy.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("charnn-test-npy-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct ParsedNpy {
  std::string dict;
  std::vector<float> data;
};

// An independent reader of what numpy.load expects: magic, version 1.0, little-endian u16
// header length, dict padded so the data starts at a multiple of 64.
ParsedNpy parse_npy(const std::string& bytes) {
  REQUIRE(bytes.size() >= 10);
  REQUIRE(bytes.compare(0, 6, "\x93NUMPY") == 0);
  REQUIRE(bytes[6] == 1);
  REQUIRE(bytes[7] == 0);
  const std::size_t len = static_cast<unsigned char>(bytes[8]) |
                          (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  REQUIRE((10 + len) % 64 == 0);
  REQUIRE(bytes.size() >= 10 + len);
  ParsedNpy out;
  out.dict = bytes.substr(10, len);
  REQUIRE(out.dict.back() == '\n');
  const std::size_t n = (bytes.size() - 10 - len) / sizeof(float);
  REQUIRE((bytes.size() - 10 - len) % sizeof(float) == 0);
  out.data.resize(n);
  if (n) std::memcpy(out.data.data(), bytes.data() + 10 + len, n * sizeof(float));
  return out;
}

}  // namespace

TEST_CASE("npy headers describe float32 C-order arrays of the given shape", "[inspect][npy]") {
  const std::vector<std::int64_t> s2{3, 5}, s1{7}, s0{};
  for (const auto& [shape, text] : std::vector<std::pair<std::vector<std::int64_t>, std::string>>{
           {s2, "(3, 5)"}, {s1, "(7,)"}, {s0, "()"}}) {
    const std::string h = charnn::npy_header(shape);
    CHECK(h.size() % 64 == 0);
    const auto parsed = parse_npy(h);
    CHECK_THAT(parsed.dict, Catch::StartsWith("{'descr': '<f4', 'fortran_order': False, "
                                              "'shape': " +
                                              text + ", }"));
  }
}

TEST_CASE("npy files stream rows and read back exactly", "[inspect][npy]") {
  const fs::path dir = temp_dir("rows");
  const fs::path file = dir / "a.npy";
  std::vector<float> all;
  {
    charnn::NpyWriter w(file, {4, 3});
    CHECK_FALSE(fs::exists(file));  // only the temporary exists until commit
    for (int r = 0; r < 4; ++r) {
      std::vector<float> row = {r * 1.5f, -r * 0.25f, 1e-30f * static_cast<float>(r)};
      all.insert(all.end(), row.begin(), row.end());
      w.write(row);
    }
    w.commit();
  }
  const auto parsed = parse_npy(slurp(file));
  CHECK_THAT(parsed.dict, Catch::Contains("'shape': (4, 3)"));
  CHECK(parsed.data == all);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  fs::remove_all(dir);
}

TEST_CASE("an incomplete or overfull npy file is an error and leaves nothing behind",
          "[inspect][npy]") {
  const fs::path dir = temp_dir("incomplete");
  {
    charnn::NpyWriter w(dir / "short.npy", {2, 2});
    w.write(std::vector<float>{1, 2, 3});
    CHECK_THROWS_AS(w.write(std::vector<float>{4, 5}), charnn::error);
    CHECK_THROWS_WITH(w.commit(), Catch::Contains("short.npy") && Catch::Contains("3 values"));
  }
  CHECK(fs::is_empty(dir));
  fs::remove_all(dir);
}

TEST_CASE("an unwritable output path is a clear error", "[inspect][npy]") {
  const fs::path missing = fs::temp_directory_path() / "charnn-no-such-dir-xyz" / "a.npy";
  CHECK_THROWS_WITH(charnn::NpyWriter(missing, {1}),
                    Catch::Contains("cannot write") && Catch::Contains("a.npy"));
  try {
    charnn::AtomicFile f(missing);
  } catch (const charnn::error& e) {
    CHECK_THAT(e.hint(), Catch::Contains("does not exist"));
  }
}
