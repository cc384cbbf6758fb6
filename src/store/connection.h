#pragma once
// Internal to store/: the one SQLite connection of a plant's database file and the mutex that
// serialises every use of it. HistoryStore, EventStore and the Outbox made by Store share one
// Connection (store/store.h), so a Store::Commit is one transaction over all three.
#include <memory>
#include <mutex>

#include "store/sqlite_db.h"

namespace pf::store {

struct Connection {
  std::unique_ptr<Database> db;
  std::mutex mu;  // held for every statement and for whole transactions
};

}  // namespace pf::store
