#pragma once
// Whole-file reads for inputs from outside (models, tensors, configs): one allocation of the
// file's size, so a large model is not held twice while it is read.
#include <string>

#include "core/status.h"

namespace pf {

// The file's bytes. Errors: kNotFound "<path>: cannot open (reason)", kDataLoss "<path>: read failed after
// N bytes" (an I/O error).
Result<std::string> ReadFileBytes(const std::string& path);

// fsync of a directory: makes renames and creations in it durable. Errors name the directory.
Status SyncDir(const std::string& dir);

}  // namespace pf
