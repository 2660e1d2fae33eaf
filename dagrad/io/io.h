// dagrad io: tensor file formats (safetensors, NumPy .npy/.npz, dagrad's checkpoints) and
// images (PNG, PGM/PPM). A Module's state in these formats: nn/serialize.h.
#pragma once
#include "dagrad/io/checkpoint.h"
#include "dagrad/io/image.h"
#include "dagrad/io/npy.h"
#include "dagrad/io/safetensors.h"
