#include "dagrad/autograd/ops/einsum.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>
#include <string>

#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/linalg.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/ops/shape_ops.h"

namespace dagrad {

namespace {

// An operand with one label per axis. Labels are chars: the letters of the equation, and
// ellipsis dimensions as the chars '0' + k (k counted from the right of the ellipsis).
struct Term {
  Tensor t;
  std::string labels;
};

[[noreturn]] void fail(std::string_view eq, const std::string& why) {
  throw std::invalid_argument(fmt::format("einsum '{}': {}", eq, why));
}

// The labels of one side of the equation for an operand of `ndim` axes, "..." expanded into
// ellipsis labels (right-aligned, so that ellipses of different lengths broadcast).
std::string expand_labels(std::string_view eq, std::string_view spec, int ndim, int& ellipsis_max) {
  std::string out;
  const std::size_t dots = spec.find("...");
  std::string before(spec.substr(0, dots)), after;
  if (dots != std::string_view::npos) after = std::string(spec.substr(dots + 3));
  for (char c : before + after)
    if (!std::isalpha(static_cast<unsigned char>(c)))
      fail(eq, fmt::format("'{}' is not a letter (labels are letters, plus one '...')", c));
  const int explicit_count = static_cast<int>(before.size() + after.size());
  if (dots == std::string_view::npos) {
    if (explicit_count != ndim)
      fail(eq, fmt::format("'{}' has {} labels for an operand with {} dimensions", spec,
                           explicit_count, ndim));
    return before;
  }
  const int e = ndim - explicit_count;
  if (e < 0)
    fail(eq, fmt::format("'{}' has more labels than the operand's {} dimensions", spec, ndim));
  ellipsis_max = std::max(ellipsis_max, e);
  out = before;
  for (int k = e - 1; k >= 0; --k) out.push_back(static_cast<char>('0' + k));
  return out + after;
}

// Removes a repeated label of one operand by taking the diagonal of its two axes.
Term take_diagonals(Term x) {
  for (std::size_t p = 0; p < x.labels.size(); ++p) {
    const std::size_t q = x.labels.find(x.labels[p], p + 1);
    if (q == std::string::npos) continue;
    const int64_t n = x.t.shape()[static_cast<int>(p)];
    if (x.t.shape()[static_cast<int>(q)] != n)
      throw std::invalid_argument(
          fmt::format("einsum: label '{}' is repeated on axes of sizes {} and {}", x.labels[p], n,
                      x.t.shape()[static_cast<int>(q)]));
    Shape mask_shape(std::vector<int64_t>(x.t.dim(), 1));
    mask_shape[static_cast<int>(p)] = n;
    mask_shape[static_cast<int>(q)] = n;
    const Tensor mask = reshape(eye(n, x.t.dtype()), mask_shape);
    x.t = sum(x.t * mask, static_cast<int64_t>(q));
    x.labels.erase(q, 1);
    --p;  // the same label may repeat a third time
  }
  return x;
}

// Sums the axes whose labels no one else needs.
Term sum_unneeded(Term x, const std::string& needed) {
  std::vector<int64_t> axes;
  std::string kept;
  for (std::size_t i = 0; i < x.labels.size(); ++i) {
    if (needed.find(x.labels[i]) == std::string::npos)
      axes.push_back(static_cast<int64_t>(i));
    else
      kept.push_back(x.labels[i]);
  }
  if (!axes.empty()) x.t = sum(x.t, axes);
  x.labels = kept;
  return x;
}

// x's axes reordered to `order` (a permutation of its labels).
Tensor arrange(const Term& x, const std::string& order) {
  std::vector<int64_t> perm;
  for (char c : order) perm.push_back(static_cast<int64_t>(x.labels.find(c)));
  bool identity = true;
  for (std::size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == static_cast<int64_t>(i);
  return identity ? x.t : permute(x.t, perm);
}

int64_t product(const Tensor& t, int from, int count) {
  int64_t p = 1;
  for (int i = from; i < from + count; ++i) p *= t.shape()[i];
  return p;
}

// a and b contracted over the labels they share that `needed` does not keep, as one batched
// GEMM: a as (batch, left, k), b as (batch, k, right). Labels of the result: batch, left,
// right.
Term contract(Term a, Term b, const std::string& needed) {
  std::string batch, left, right, k;
  for (char c : a.labels) {
    const bool in_b = b.labels.find(c) != std::string::npos;
    if (!in_b)
      left.push_back(c);
    else if (needed.find(c) != std::string::npos)
      batch.push_back(c);
    else
      k.push_back(c);
  }
  for (char c : b.labels)
    if (a.labels.find(c) == std::string::npos) right.push_back(c);
  // A shared label of size 1 on one side broadcasts against the other's size.
  Shape a_full = a.t.shape(), b_full = b.t.shape();
  for (char c : batch + k) {
    const int ia = static_cast<int>(a.labels.find(c)), ib = static_cast<int>(b.labels.find(c));
    const int64_t sa = a_full[ia], sb = b_full[ib];
    if (sa == sb) continue;
    if (sa != 1 && sb != 1)
      throw std::invalid_argument(
          fmt::format("einsum: label '{}' has sizes {} and {} in two operands", c, sa, sb));
    (sa == 1 ? a_full[ia] : b_full[ib]) = std::max(sa, sb);
  }
  if (a_full != a.t.shape()) a.t = broadcast_to(a.t, a_full);
  if (b_full != b.t.shape()) b.t = broadcast_to(b.t, b_full);
  const Tensor at = arrange(a, batch + left + k), bt = arrange(b, batch + k + right);
  const int nb = static_cast<int>(batch.size()), nl = static_cast<int>(left.size());
  const int nk = static_cast<int>(k.size()), nr = static_cast<int>(right.size());
  const int64_t bs = product(at, 0, nb), m = product(at, nb, nl), kk = product(at, nb + nl, nk);
  const int64_t n = product(bt, nb + nk, nr);
  const Tensor c = matmul(reshape(at, {bs, m, kk}), reshape(bt, {bs, kk, n}));
  Shape out;
  for (int i = 0; i < nb + nl; ++i) out.push_back(at.shape()[i]);
  for (int i = nb + nk; i < nb + nk + nr; ++i) out.push_back(bt.shape()[i]);
  return {reshape(c, out), batch + left + right};
}

}  // namespace

Tensor einsum(std::string_view eq, const std::vector<Tensor>& operands) {
  if (operands.empty()) fail(eq, "no operands");
  std::string spec(eq);
  spec.erase(std::remove(spec.begin(), spec.end(), ' '), spec.end());
  const std::size_t arrow = spec.find("->");
  const std::string lhs = spec.substr(0, arrow);
  // The operands' label strings.
  std::vector<std::string> inputs;
  for (std::size_t at = 0;;) {
    const std::size_t comma = lhs.find(',', at);
    inputs.push_back(lhs.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  if (inputs.size() != operands.size())
    fail(eq, fmt::format("{} operand specs for {} tensors", inputs.size(), operands.size()));
  int ellipsis = 0;
  std::vector<Term> terms;
  for (std::size_t i = 0; i < operands.size(); ++i)
    terms.push_back(
        take_diagonals({operands[i], expand_labels(eq, inputs[i], operands[i].dim(), ellipsis)}));
  for (std::size_t i = 1; i < operands.size(); ++i)
    if (operands[i].dtype() != operands[0].dtype()) fail(eq, "the operands' dtypes differ");
  // The output labels: given, or every label used once, alphabetically, after the ellipsis.
  std::string ell;
  for (int k = ellipsis - 1; k >= 0; --k) ell.push_back(static_cast<char>('0' + k));
  std::string output;
  if (arrow != std::string::npos) {
    const std::string rhs = spec.substr(arrow + 2);
    const std::size_t dots = rhs.find("...");
    const std::string plain =
        dots == std::string::npos ? rhs : rhs.substr(0, dots) + rhs.substr(dots + 3);
    for (char c : plain) {
      if (!std::isalpha(static_cast<unsigned char>(c)))
        fail(eq, fmt::format("'{}' in the output is not a letter", c));
      if (std::count(plain.begin(), plain.end(), c) > 1)
        fail(eq, fmt::format("output label '{}' appears twice", c));
      if (lhs.find(c) == std::string::npos)
        fail(eq, fmt::format("output label '{}' is not in any operand", c));
    }
    output = dots == std::string::npos ? plain : rhs.substr(0, dots) + ell + rhs.substr(dots + 3);
  } else {
    std::map<char, int> uses;
    for (const std::string& in : inputs)
      for (char c : in)
        if (std::isalpha(static_cast<unsigned char>(c))) ++uses[c];
    output = ell;
    for (const auto& [c, n] : uses)
      if (n == 1) output.push_back(c);
  }
  // Labels still needed after operand i: the output's and those of the operands after i.
  auto needed_after = [&](std::size_t i) {
    std::string need = output;
    for (std::size_t j = i + 1; j < terms.size(); ++j) need += terms[j].labels;
    return need;
  };
  Term acc = sum_unneeded(terms[0], needed_after(0));
  for (std::size_t i = 1; i < terms.size(); ++i) {
    const std::string need = needed_after(i);
    const Term next = sum_unneeded(terms[i], need + acc.labels);
    acc = sum_unneeded(contract(acc, next, need), need);
  }
  return arrange(acc, output);
}

}  // namespace dagrad
