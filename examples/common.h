// What several examples share.
#pragma once
#include <cstdint>

#include "dagrad/data/idx.h"
#include "dagrad/train/solver.h"

namespace dagrad::examples {

// The first num_train training and num_val validation images of a dataset.
inline train::SolverData subset(const data::Dataset& ds, int64_t num_train, int64_t num_val) {
  return {slice(ds.X_train, 0, 0, num_train), slice(ds.y_train, 0, 0, num_train),
          slice(ds.X_val, 0, 0, num_val), slice(ds.y_val, 0, 0, num_val)};
}

}  // namespace dagrad::examples
