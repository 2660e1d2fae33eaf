// The allocation machinery behind cheap tiny ops: the per-thread block cache, the inline
// small vectors of edges and gradients, and the node's non-owning link to its output.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/base/block_pool.h"
#include "dagrad/base/small_vector.h"
#include "dagrad/viz/graph.h"

using namespace dagrad;

namespace {
Tensor leaf(std::vector<double> v) {
  Tensor t = tensor(v, {-1}, float64);
  t.requires_grad_();
  return t;
}
bool contains_name(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("block_pool: a freed block is reused by the next allocation of its size") {
  void* a = block_pool::allocate(200);
  const std::size_t before = block_pool::cached_blocks(200);
  block_pool::deallocate(a, 200);
  CHECK(block_pool::cached_blocks(200) == before + 1);
  void* b = block_pool::allocate(193);  // same 16-byte size class
  CHECK(b == a);
  CHECK(block_pool::cached_blocks(200) == before);
  block_pool::deallocate(b, 193);
  // Beyond the largest class the heap is used directly.
  void* big = block_pool::allocate(block_pool::max_block + 1);
  block_pool::deallocate(big, block_pool::max_block + 1);
  CHECK(block_pool::cached_blocks(block_pool::max_block + 1) == 0);
}

TEST_CASE("block_pool: the per-thread cache is bounded") {
  const std::size_t bytes = 512;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < 2 * block_pool::cache_bytes / bytes + 10; ++i)
    blocks.push_back(block_pool::allocate(bytes));
  for (void* p : blocks) block_pool::deallocate(p, bytes);
  CHECK(block_pool::cached_blocks(bytes) * bytes <= block_pool::cache_bytes);
}

TEST_CASE("block_pool: tensors and graphs may die on another thread than they were made on") {
  Tensor x = leaf({1.0, 2.0});
  for (int round = 0; round < 20; ++round) {
    // Built here, freed on a worker: one that never allocated (its frees go to the heap),
    // and one with a live cache of its own (drained when it exits).
    for (bool warm : {false, true}) {
      std::vector<Tensor> made;
      for (int i = 0; i < 200; ++i) made.push_back((x * 2.0 + 1.0).sum());
      std::thread([&made, warm] {
        if (warm) CHECK((scalar_tensor(1) * 2.0).item() == 2);
        made.clear();
      }).join();
    }
    // Built on a worker (its cache is drained when it exits), backward and freed here.
    Tensor y;
    std::thread([&] {
      Tensor z = x;
      for (int i = 0; i < 300; ++i) z = z * 1.5 + 0.25;
      y = z.sum();
    }).join();
    y.backward();
    y = Tensor();
  }
  CHECK(x.grad().defined());
  // Two threads building and freeing graphs at the same time, each with its own cache.
  auto work = [] {
    Tensor w = leaf({0.5});
    for (int it = 0; it < 200; ++it) {
      Tensor z = w;
      for (int i = 0; i < 50; ++i) z = z * 1.01 + 0.01;
      z.sum().backward();
    }
    return w.grad().item();
  };
  double r1 = 0, r2 = 0;
  std::thread t1([&] { r1 = work(); }), t2([&] { r2 = work(); });
  t1.join();
  t2.join();
  CHECK(r1 == doctest::Approx(r2));
  CHECK(r1 > 0);
}

TEST_CASE("small_vector: inline up to N, then on the heap, with value semantics") {
  SmallVector<Tensor, 3> v{scalar_tensor(1), scalar_tensor(2)};
  CHECK(v.size() == 2);
  CHECK(v.capacity() == 3);
  const Tensor* inline_data = v.data();
  v.push_back(scalar_tensor(3));
  CHECK(v.data() == inline_data);
  v.push_back(v[0]);  // an element of the vector itself, while it grows
  v.push_back(scalar_tensor(5));
  CHECK(v.size() == 5);
  CHECK(v.data() != inline_data);
  std::vector<double> got;
  for (const Tensor& t : v) got.push_back(t.item());
  CHECK(got == std::vector<double>{1, 2, 3, 1, 5});

  SmallVector<Tensor, 3> copy = v;
  SmallVector<Tensor, 3> moved = std::move(v);
  CHECK(copy.size() == 5);
  CHECK(moved.size() == 5);
  CHECK(v.empty());
  CHECK(moved[4].item() == 5);

  SmallVector<Tensor, 3> small{scalar_tensor(7)};
  SmallVector<Tensor, 3> small_moved = std::move(small);
  CHECK(small_moved[0].item() == 7);
  small_moved = copy;
  CHECK(small_moved.size() == 5);

  GradList sized(4);
  CHECK(sized.size() == 4);
  CHECK(!sized[3].defined());
  GradList from_vector = std::vector<Tensor>{scalar_tensor(1), Tensor()};
  CHECK(from_vector.size() == 2);
}

TEST_CASE("engine: a node with more inputs than fit inline (concat of five)") {
  std::vector<Tensor> xs;
  for (int i = 0; i < 5; ++i) xs.push_back(leaf({1.0 * i, 2.0 * i}));
  Tensor c = concat(xs, 0);
  REQUIRE(c.grad_fn()->next.size() == 5);
  (c * arange(10, float64)).sum().backward();
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK(xs[i].grad().to_vector() == std::vector<double>{2.0 * i, 2.0 * i + 1});
  }
}

TEST_CASE("engine: a node's link to its output is cleared when the output dies") {
  Tensor x = leaf({1, 2});
  Tensor y = x * 3.0;
  y.set_name("y");
  Tensor z = (y + 1.0).sum();
  Node* ny = y.grad_fn().get();
  CHECK(ny->output.get() == &y.impl());
  CHECK(contains_name(viz::tape_listing(z), "'y'"));
  y = Tensor();  // the node lives on in z's graph; its output does not
  CHECK(ny->output.get() == nullptr);
  CHECK(!contains_name(viz::tape_listing(z), "'y'"));
  z.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{3, 3});
}

TEST_CASE("engine: a kept output is re-linked to its node under create_graph (owner handle)") {
  Tensor x = leaf({0.5, -1.0});
  Tensor y = exp(x).sum();
  Tensor g =
      grad({y}, {x}, {}, BackwardOptions{.create_graph = true})[0];  // exp(x), from y's output
  REQUIRE(g.requires_grad());
  Tensor g2 = grad({g.sum()}, {x}, {}, BackwardOptions{.create_graph = true})[0];
  Tensor g3 = grad({g2.sum()}, {x})[0];
  for (const Tensor& d : {g, g2, g3}) {
    CHECK(d.to_vector()[0] == doctest::Approx(std::exp(0.5)));
    CHECK(d.to_vector()[1] == doctest::Approx(std::exp(-1.0)));
  }
}
