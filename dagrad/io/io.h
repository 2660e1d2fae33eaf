// dagrad io: file formats other tools read and write (safetensors, NumPy .npy/.npz) and the
// atomic file writes they share. A Module's state in these formats: nn/serialize.h.
#pragma once
#include "dagrad/io/file.h"
#include "dagrad/io/npy.h"
#include "dagrad/io/safetensors.h"
