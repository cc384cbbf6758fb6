#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0) as engine Tensors: what `plantfloor model
// run` reads its inputs from and writes its outputs to.
//
// Accepted on read: little-endian, C order, descr '<f4' (float), '<f8' (converted to float32: numpy's
// default dtype, so `np.random.rand(...)` files work; precision beyond float32 is dropped), '<i8',
// '<i4', '|u1', '|i1', '|b1' ('<' is accepted for the 1-byte types too). Everything else is an
// error that names the file (`what`), the byte offset and what was wrong, e.g.
//   "x.npy: byte 10: header dtype '<f2' is not supported, expected one of '<f4', '<f8', ..."
// The data must hold exactly shape-product elements: a short or long file is an error, and the
// size is checked before anything is allocated. Written: version 1.0 (2.0 when the header needs it),
// header padded to 64 bytes, the tensor's own dtype.
// Pure functions; thread-safe.
#include <string>
#include <string_view>

#include "core/status.h"
#include "engine/graph.h"
#include "engine/tensor.h"

namespace pf::engine {

Result<Tensor> ReadNpy(std::string_view bytes, const std::string& what);
Result<Tensor> ReadNpyFile(const std::string& path);
std::string WriteNpy(const Tensor& t);
Status WriteNpyFile(const std::string& path, const Tensor& t);

// The .npy descr of a dtype: "<f4", "<i8", "<i4", "|u1", "|i1", "|b1".
std::string_view NpyDescr(DType t);

// A tensor given for a model input must have the input's dtype and (where the declared dimension is
// known) its shape: else kInvalidArgument naming `what` (the file), the input and both dtypes/shapes:
//   "x.npy: dtype int64 ('<i8') does not match model input 'x' of dtype float ('<f4')"
Status CheckTensorForInput(const Tensor& t, const ValueInfo& input, const std::string& what);

}  // namespace pf::engine
