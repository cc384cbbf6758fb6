#include "store/sample_codec.h"

#include <sqlite3.h>

#include <cmath>
#include <limits>

namespace pf::store {
namespace {

constexpr int64_t kKindPlain = 0;
constexpr int64_t kKindBool = 1;
constexpr int64_t kKindNaN = 2;

int64_t BindValue(Statement& st, int i, const Value& v) {
  struct Binder {
    Statement& st;
    int i;
    int64_t operator()(std::monostate) const { st.BindNull(i); return kKindPlain; }
    int64_t operator()(bool b) const { st.BindInt(i, b ? 1 : 0); return kKindBool; }
    int64_t operator()(int64_t x) const { st.BindInt(i, x); return kKindPlain; }
    int64_t operator()(double d) const {
      if (std::isnan(d)) {  // sqlite stores NaN as NULL; the kind bits remember it
        st.BindNull(i);
        return kKindNaN;
      }
      st.BindDouble(i, d);
      return kKindPlain;
    }
    int64_t operator()(const std::string& s) const { st.BindText(i, s); return kKindPlain; }
  };
  return std::visit(Binder{st, i}, v);
}

}  // namespace

int64_t BindSampleValue(Statement& st, int i, const Value& v, Quality quality, QualitySub sub) {
  int64_t kind = BindValue(st, i, v);
  return kind << 16 | static_cast<int64_t>(quality) << 8 | static_cast<int64_t>(sub);
}

Result<DecodedValue> ReadSampleValue(const Statement& st, int value_col, int64_t q) {
  int64_t quality = (q >> 8) & 0xff, sub = q & 0xff, kind = q >> 16;
  if (quality > static_cast<int64_t>(Quality::kBad) || sub > static_cast<int64_t>(QualitySub::kGap) ||
      kind > kKindNaN || kind < 0)
    return DataLoss("invalid quality word 0x{:x}", q);
  DecodedValue out;
  out.quality = static_cast<Quality>(quality);
  out.sub = static_cast<QualitySub>(sub);
  switch (st.ColumnType(value_col)) {
    case SQLITE_NULL:
      if (kind == kKindNaN) out.value = std::numeric_limits<double>::quiet_NaN();
      break;
    case SQLITE_INTEGER:
      if (kind == kKindBool) out.value = st.Int(value_col) != 0;
      else out.value = st.Int(value_col);
      break;
    case SQLITE_FLOAT:
      out.value = st.Double(value_col);
      break;
    case SQLITE_TEXT:
      out.value = st.Text(value_col);
      break;
    default:
      return DataLoss("unexpected blob value");
  }
  return out;
}

}  // namespace pf::store
