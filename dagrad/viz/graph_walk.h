// Internal: walking a recorded graph, shared by the graph tools (graph.cpp: tape listings and
// DOT; graph_page.cpp: the interactive page).
#pragma once
#include <memory>
#include <vector>

#include "dagrad/autograd/node.h"

namespace dagrad::viz::detail {

// The nodes reachable from the roots, sorted by sequence number (iterative: long chains are
// fine).
std::vector<Node*> reachable(const std::vector<std::shared_ptr<Node>>& roots);
// The gradient edges of the outputs that require grad.
std::vector<std::shared_ptr<Node>> roots_of(const std::vector<Tensor>& outputs);
// The tensor a node stands for: a leaf's tensor, or an op's output while it is alive.
const TensorImpl* tensor_of(const Node* n);

}  // namespace dagrad::viz::detail
