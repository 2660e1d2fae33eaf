// Einstein summation (torch.einsum): "ij,jk->ik", implicit output ("ij,jk" sums the labels
// that appear twice and keeps the others in alphabetical order), repeated labels within one
// operand (diagonals: "ii->i", traces: "ii"), and "..." for broadcast dimensions. Labels are
// letters. Contractions run as batched GEMMs (matmul), pairwise from left to right; labels
// used by one operand alone are summed out first. Built from differentiable ops, so gradients
// of every order and forward mode come with it.
#pragma once
#include <string_view>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad {

Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands);

}  // namespace dagrad
