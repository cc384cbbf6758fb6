// .npy read/write against numpy itself (Debian's /usr/bin/python3 writes and reads the files:
// the independent reference) and against hand-built headers for every rejection path: each bad
// file gives kInvalidArgument with the file, the byte offset and what was wrong.
#include "engine/npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "testing.h"

namespace pf::engine {
namespace {

// A v1.0 header around `dict`, padded as numpy pads it, followed by `data`.
std::string Npy(const std::string& dict, const std::string& data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string h = dict;
  const size_t total = (prefix + h.size() + 1 + 63) / 64 * 64;
  h.append(total - prefix - h.size() - 1, ' ');
  h += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (size_t k = 0; k < prefix - 8; ++k) out += static_cast<char>((h.size() >> (8 * k)) & 0xff);
  return out + h + data;
}

std::string Floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

bool HavePythonNumpy() { return pf::testing::Run("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0; }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Npy, ReadsWhatNumpyWritesForEveryDtype) {
  if (!HavePythonNumpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not installed";
  pf::testing::TempDir dir;
  const std::string script = fmt::format(R"(/usr/bin/python3 -c "
import numpy as np
d='{}'
np.save(d+'/f4.npy', np.array([[1.5,-2.25,3],[4,5,6.125]], dtype=np.float32))
np.save(d+'/f8.npy', np.array([0.1, -1e10], dtype=np.float64))
np.save(d+'/i8.npy', np.array([-(2**40), 7], dtype=np.int64))
np.save(d+'/i4.npy', np.array([[-5],[2**31-1]], dtype=np.int32))
np.save(d+'/u1.npy', np.array([0, 255, 17], dtype=np.uint8))
np.save(d+'/i1.npy', np.array([-128, 127], dtype=np.int8))
np.save(d+'/b1.npy', np.array([True, False, True]))
np.save(d+'/scalar.npy', np.float32(2.5))
np.save(d+'/fortran.npy', np.asfortranarray(np.ones((2,3), dtype=np.float32)))
np.save(d+'/f2.npy', np.ones(3, dtype=np.float16))
np.save(d+'/be.npy', np.ones(3, dtype='>f4'))
")",
                                         dir.path());
  ASSERT_EQ(pf::testing::Run(script), 0);
  auto f4 = ReadNpyFile(dir.path() + "/f4.npy");
  ASSERT_TRUE(f4.ok()) << f4.status().ToString();
  EXPECT_EQ(f4->dtype, DType::kFloat);
  EXPECT_EQ(f4->shape, (Shape{2, 3}));
  EXPECT_EQ(f4->f, (std::vector<float>{1.5f, -2.25f, 3, 4, 5, 6.125f}));
  auto f8 = ReadNpyFile(dir.path() + "/f8.npy");
  ASSERT_TRUE(f8.ok()) << f8.status().ToString();
  EXPECT_EQ(f8->dtype, DType::kFloat);
  EXPECT_EQ(f8->f, (std::vector<float>{0.1f, -1e10f}));
  EXPECT_EQ(ReadNpyFile(dir.path() + "/i8.npy")->i, (std::vector<int64_t>{-(int64_t{1} << 40), 7}));
  auto i4 = ReadNpyFile(dir.path() + "/i4.npy");
  EXPECT_EQ(i4->dtype, DType::kInt32);
  EXPECT_EQ(i4->shape, (Shape{2, 1}));
  EXPECT_EQ(i4->i, (std::vector<int64_t>{-5, 2147483647}));
  EXPECT_EQ(ReadNpyFile(dir.path() + "/u1.npy")->i, (std::vector<int64_t>{0, 255, 17}));
  EXPECT_EQ(ReadNpyFile(dir.path() + "/i1.npy")->i, (std::vector<int64_t>{-128, 127}));
  auto b1 = ReadNpyFile(dir.path() + "/b1.npy");
  EXPECT_EQ(b1->dtype, DType::kBool);
  EXPECT_EQ(b1->i, (std::vector<int64_t>{1, 0, 1}));
  auto scalar = ReadNpyFile(dir.path() + "/scalar.npy");
  EXPECT_EQ(scalar->shape, Shape{});
  EXPECT_EQ(scalar->f, std::vector<float>{2.5f});

  auto fortran = ReadNpyFile(dir.path() + "/fortran.npy");
  EXPECT_EQ(fortran.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(fortran.status().message().find("fortran_order True is not supported"), std::string::npos)
      << fortran.status().message();
  auto f2 = ReadNpyFile(dir.path() + "/f2.npy");
  // numpy writes "{'descr': '<f2', ..." at byte 10: the value starts at byte 20.
  EXPECT_EQ(f2.status().message(),
            dir.path() + "/f2.npy: byte 20: header dtype '<f2' is not supported, expected one of "
                         "'<f4', '<f8', '<i8', '<i4', '|u1', '|i1', '|b1'");
  EXPECT_NE(ReadNpyFile(dir.path() + "/be.npy").status().message().find("header dtype '>f4' is not supported"),
            std::string::npos);
}

TEST(Npy, NumpyReadsWhatWeWriteAndBytesMatchNumpy) {
  if (!HavePythonNumpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not installed";
  pf::testing::TempDir dir;
  ASSERT_TRUE(WriteNpyFile(dir.path() + "/a.npy", Tensor::Float({2, 3}, {1, 2, 3, 4, 5, -6.5f})).ok());
  ASSERT_TRUE(WriteNpyFile(dir.path() + "/b.npy", Tensor::Int(DType::kInt64, {3}, {1, -2, 3})).ok());
  ASSERT_TRUE(WriteNpyFile(dir.path() + "/c.npy", Tensor::Int(DType::kUint8, {}, {7})).ok());
  ASSERT_TRUE(WriteNpyFile(dir.path() + "/d.npy", Tensor::Int(DType::kBool, {2}, {1, 0})).ok());
  ASSERT_TRUE(WriteNpyFile(dir.path() + "/e.npy", Tensor::Int(DType::kInt8, {1, 2}, {-3, 4})).ok());
  ASSERT_TRUE(WriteNpyFile(dir.path() + "/f.npy", Tensor::Int(DType::kInt32, {2}, {-70000, 5})).ok());
  std::string out;
  const std::string script = fmt::format(R"(/usr/bin/python3 -c "
import numpy as np, io
d='{}'
for n, want in [('a', np.array([[1,2,3],[4,5,-6.5]], dtype=np.float32)), ('b', np.array([1,-2,3], dtype=np.int64)),
                ('c', np.array(7, dtype=np.uint8)), ('d', np.array([True, False])),
                ('e', np.array([[-3, 4]], dtype=np.int8)), ('f', np.array([-70000, 5], dtype=np.int32))]:
    got = np.load(d + '/' + n + '.npy')
    assert got.dtype == want.dtype and got.shape == want.shape and (got == want).all(), n
    b = io.BytesIO(); np.save(b, want)
    assert b.getvalue() == open(d + '/' + n + '.npy', 'rb').read(), n + ' bytes differ'
print('ok')
")",
                                         dir.path());
  ASSERT_EQ(pf::testing::Run(script, &out), 0) << out;
  EXPECT_EQ(out, "ok\n");
}

TEST(Npy, RoundTripsVersion2And3Headers) {
  for (int major : {1, 2, 3}) {
    auto v = ReadNpy(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", Floats({1.25f, -8}), major), "v.npy");
    ASSERT_TRUE(v.ok()) << major << ": " << v.status().ToString();
    EXPECT_EQ(v->shape, Shape{2});
    EXPECT_EQ(v->f, (std::vector<float>{1.25f, -8}));
  }
}

TEST(Npy, RejectsBadFilesWithByteOffsets) {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  auto msg = [](std::string_view bytes) { return ReadNpy(bytes, "x.npy").status().message(); };
  EXPECT_EQ(msg("PK\x03\x04 zip"), "x.npy: byte 0: not a .npy file (no \\x93NUMPY magic)");
  EXPECT_EQ(msg(std::string("\x93NUMPY\x04\x00", 8) + "xx"), "x.npy: byte 6: .npy format version 4.0 is not supported (1.0, 2.0, 3.0)");
  std::string whole = Npy(ok_dict, Floats({1, 2}));
  EXPECT_EQ(msg(whole.substr(0, 40)), "x.npy: byte 8: header length 118 runs past the end of the file (40 bytes)");
  EXPECT_EQ(msg(whole.substr(0, whole.size() - 1)), "x.npy: byte 128: shape [2] of '<f4' needs 8 data bytes but the file holds 7");
  EXPECT_EQ(msg(whole + "z"), "x.npy: byte 128: shape [2] of '<f4' needs 8 data bytes but the file holds 9");
  EXPECT_EQ(msg(Npy("{'descr': '<f4', 'fortran_order': False}", "")), "x.npy: byte 10: header has no 'shape' key");
  EXPECT_EQ(msg(Npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", "")),
            "x.npy: byte 44: expected True or False for 'fortran_order'");
  EXPECT_EQ(msg(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x)}", "")),
            "x.npy: byte 64: expected a non-negative integer in 'shape'");
  EXPECT_EQ(msg(Npy("{'descr': '<f4', 'colour': 'red', 'shape': (2,)}", "")),
            "x.npy: byte 27: header key 'colour' is not one of 'descr', 'fortran_order', 'shape'");
  EXPECT_EQ(msg(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 2), }", "")),
            "x.npy: byte 60: shape [4294967296,2] has more than 4294967296 elements");
}

TEST(Npy, WrongDtypeForModelInputNamesBoth) {
  const ValueInfo input{"x", DType::kFloat, {-1, 3}};
  Tensor ints = Tensor::Int(DType::kInt64, {1, 3}, {1, 2, 3});
  Status s = CheckTensorForInput(ints, input, "x.npy");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "x.npy: dtype int64 ('<i8') does not match model input 'x' of dtype float ('<f4')");
  s = CheckTensorForInput(Tensor::Float({1, 4}), input, "x.npy");
  EXPECT_EQ(s.message(), "x.npy: shape [1,4] does not match model input 'x' of shape [-1,3] (-1: any size)");
  EXPECT_TRUE(CheckTensorForInput(Tensor::Float({5, 3}), input, "x.npy").ok());
}

}  // namespace
}  // namespace pf::engine
