#pragma once
// Internal to store/: how a sample's value and quality are stored in the columns v and q of the
// samples and outbox tables (the layout is defined in store/schema.h).
#include <cstdint>

#include "core/sample.h"
#include "core/status.h"
#include "store/sqlite_db.h"

namespace pf::store {

// Binds v to parameter i and returns the whole q word: kind<<16 | quality<<8 | sub.
int64_t BindSampleValue(Statement& st, int i, const Value& v, Quality quality, QualitySub sub);

struct DecodedValue {
  Value value;
  Quality quality = Quality::kGood;
  QualitySub sub = QualitySub::kNone;
};
// Reads column value_col with its q word; kDataLoss when q is not a valid word.
Result<DecodedValue> ReadSampleValue(const Statement& st, int value_col, int64_t q);

}  // namespace pf::store
