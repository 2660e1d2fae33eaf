#include "dagrad/autograd/ops/elementwise.h"

#include <cmath>

#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/map.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/ops/unary.h"
#include "dagrad/autograd/rules.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules elementwise_rules{
    {"add", "d(a+b)/da = 1, d(a+b)/db = 1 (summed over broadcast axes)"},
    {"sub", "d(a-b)/da = 1, d(a-b)/db = -1"},
    {"mul", "d(ab)/da = b, d(ab)/db = a"},
    {"div", "d(a/b)/da = 1/b, d(a/b)/db = -a/b^2"},
    {"neg", "d(-x)/dx = -1"},
    {"add_scalar", "d(x+s)/dx = 1"},
    {"mul_scalar", "d(sx)/dx = s"},
    {"div_scalar", "d(x/s)/dx = 1/s"},
    {"rsub_scalar", "d(s-x)/dx = -1"},
    {"rdiv_scalar", "d(s/x)/dx = -s/x^2"},
    {"pow", "d(x^p)/dx = p x^(p-1)"},
    {"pow_tensor", "d(x^p)/dx = p x^(p-1), d(x^p)/dp = x^p log x"},
    {"atan2", "d atan2(a,b)/da = b/(a^2+b^2), /db = -a/(a^2+b^2)"},
    {"maximum", "the gradient goes to the larger input (split on ties)"},
    {"minimum", "the gradient goes to the smaller input (split on ties)"},
    {"clamp", "d clamp(x, lo, hi)/dx = 1 inside [lo, hi], else 0"},
    {"where", "d where(c, a, b)/da = [c != 0], /db = [c == 0]"},
};

using detail::map_binary;
using detail::map_unary;
namespace fn = kernels::fn;

// ---------------------------------------------------------------- tensor–tensor arithmetic

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary(a, b, "add", fn::Add{});
  return record(
      "add", out, {a, b},
      // d(a+b)/da = 1, d(a+b)/db = 1, each summed back over broadcast axes
      [sa = a.shape(), sb = b.shape()](const Tensor& g, const Tensor&) -> GradList {
        return {sum_to(g, sa), sum_to(g, sb)};
      },
      [](const TangentList& t, const Tensor&) { return t[0] + t[1]; });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary(a, b, "sub", fn::Sub{});
  return record(
      "sub", out, {a, b},
      [sa = a.shape(), sb = b.shape()](const Tensor& g, const Tensor&) -> GradList {
        return {sum_to(g, sa), sum_to(-g, sb)};
      },
      [](const TangentList& t, const Tensor&) { return t[0] - t[1]; });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary(a, b, "mul", fn::Mul{});
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record(
      "mul", out, {a, b},
      // d(ab)/da = b, d(ab)/db = a
      [a = SavedTensor(gb ? a : Tensor(), "mul"), b = SavedTensor(ga ? b : Tensor(), "mul"),
       sa = a.shape(), sb = b.shape(), ga, gb](const Tensor& g, const Tensor&) -> GradList {
        return {ga ? sum_to(g * b.get(), sa) : Tensor(), gb ? sum_to(g * a.get(), sb) : Tensor()};
      },
      [&a, &b](const TangentList& t, const Tensor&) { return t[0] * b + a * t[1]; });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary(a, b, "div", fn::Div{});
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record(
      "div", out, {a, b},
      // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
      [a = SavedTensor(gb ? a : Tensor(), "div"), b = SavedTensor(b, "div"), sa = a.shape(),
       sb = b.shape(), ga, gb](const Tensor& g, const Tensor&) -> GradList {
        const Tensor& bv = b.get();
        return {ga ? sum_to(g / bv, sa) : Tensor(),
                gb ? sum_to(-g * a.get() / (bv * bv), sb) : Tensor()};
      },
      [&a, &b](const TangentList& t, const Tensor&) { return (t[0] * b - a * t[1]) / (b * b); });
}

// ---------------------------------------------------------------- tensor–scalar arithmetic

Tensor add(const Tensor& a, double s) {
  Tensor out = map_unary(a, "add_scalar", fn::AddScalar{s});
  return record(
      "add_scalar", out, {a}, [](const Tensor& g, const Tensor&) -> GradList { return {g}; },
      [](const TangentList& t, const Tensor&) { return t[0]; });
}

Tensor mul(const Tensor& a, double s) {
  Tensor out = map_unary(a, "mul_scalar", fn::MulScalar{s});
  return record(
      "mul_scalar", out, {a}, [s](const Tensor& g, const Tensor&) -> GradList { return {g * s}; },
      [s](const TangentList& t, const Tensor&) { return t[0] * s; });
}

Tensor rsub(double s, const Tensor& a) {
  Tensor out = map_unary(a, "rsub_scalar", fn::RsubScalar{s});
  return record(
      "rsub_scalar", out, {a}, [](const Tensor& g, const Tensor&) -> GradList { return {-g}; },
      [](const TangentList& t, const Tensor&) { return -t[0]; });
}

Tensor rdiv(double s, const Tensor& a) {
  Tensor out = map_unary(a, "rdiv_scalar", fn::RdivScalar{s});
  return record(
      "rdiv_scalar", out, {a},
      // d(s/a)/da = -s/a^2
      [a = SavedTensor(a, "rdiv_scalar"), s](const Tensor& g, const Tensor&) -> GradList {
        const Tensor& av = a.get();
        return {g * (-s) / (av * av)};
      },
      [&a, s](const TangentList& t, const Tensor&) { return t[0] * (-s) / (a * a); });
}

Tensor neg(const Tensor& a) {
  Tensor out = map_unary(a, "neg", fn::Neg{});
  return record(
      "neg", out, {a}, [](const Tensor& g, const Tensor&) -> GradList { return {-g}; },
      [](const TangentList& t, const Tensor&) { return -t[0]; });
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double s) { return add(a, s); }
Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
Tensor operator/(const Tensor& a, double s) {
  // A true division (not a * (1/s), which is off by an ulp for s = 10 and the like).
  Tensor out = map_unary(a, "div_scalar", fn::DivScalar{s});
  return record(
      "div_scalar", out, {a}, [s](const Tensor& g, const Tensor&) -> GradList { return {g / s}; },
      [s](const TangentList& t, const Tensor&) { return t[0] / s; });
}
Tensor operator+(double s, const Tensor& a) { return add(a, s); }
Tensor operator-(double s, const Tensor& a) { return rsub(s, a); }
Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
Tensor operator/(double s, const Tensor& a) { return rdiv(s, a); }
Tensor operator-(const Tensor& a) { return neg(a); }

// ---------------------------------------------------------------- powers

Tensor pow(const Tensor& x, double p) {
  Tensor out = p == 2.0 ? map_unary(x, "pow", fn::Square{}) : map_unary(x, "pow", fn::PowScalar{p});
  return record(
      "pow", out, {x},
      // d/dx x^p = p x^(p-1)
      [x = SavedTensor(x, "pow"), p](const Tensor& g, const Tensor&) -> GradList {
        if (p == 0.0) return {zeros_like(g)};
        if (p == 1.0) return {g};
        if (p == 2.0) return {g * x.get() * 2.0};
        return {g * pow(x.get(), p - 1.0) * p};
      },
      [&x, p](const TangentList& t, const Tensor&) {
        return p == 0.0 ? zeros_like(x) : t[0] * pow(x, p - 1.0) * p;
      });
}

Tensor square(const Tensor& x) { return pow(x, 2.0); }

namespace {
// The two partial derivatives of x^p, with PyTorch's conventions at the singular points:
// d/dx is 0 where p == 0 (not 0 * x^-1), and d/dp is 0 where x == 0 and p >= 0 (not
// 0 * log 0). Masks are constants, so create_graph differentiates the formulas alone.
Tensor pow_dx(const Tensor& x, const Tensor& p) {
  Tensor d = p * pow(x, p - 1.0);
  return where(eq(p, 0.0), zeros(Shape{}, d.dtype()), d);
}
Tensor pow_dp(const Tensor& x, const Tensor& p, const Tensor& out) {
  const Tensor at_zero = eq(x, 0.0) * ge(p, 0.0);
  // log(1) = 0 where masked: no -inf enters the graph, so no NaN in a second derivative.
  return out * log(where(at_zero, ones(Shape{}, x.dtype()), x));
}
}  // namespace

Tensor pow(const Tensor& x, const Tensor& p) {
  Tensor out = map_binary(x, p, "pow", fn::Pow{});
  const bool gx = x.requires_grad(), gp = p.requires_grad();
  return record(
      "pow_tensor", out, {x, p},
      // d/dx x^p = p x^(p-1);  d/dp x^p = x^p log x
      [x = SavedTensor(x, "pow_tensor"), p = SavedTensor(p, "pow_tensor"), gx, gp](
          const Tensor& g, const Tensor& out) -> GradList {
        const Tensor &xv = x.get(), &pv = p.get();
        return {gx ? sum_to(g * pow_dx(xv, pv), xv.shape()) : Tensor(),
                gp ? sum_to(g * pow_dp(xv, pv, out), pv.shape()) : Tensor()};
      },
      [&x, &p](const TangentList& t, const Tensor& out) {
        return t[0] * pow_dx(x, p) + t[1] * pow_dp(x, p, out);
      },
      KeepOutput::yes);
}

Tensor atan2(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary(a, b, "atan2", fn::Atan2{});
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record(
      "atan2", out, {a, b},
      // d/da atan2(a, b) = b / (a^2 + b^2);  d/db = -a / (a^2 + b^2)
      [a = SavedTensor(a, "atan2"), b = SavedTensor(b, "atan2"), ga, gb](
          const Tensor& g, const Tensor&) -> GradList {
        const Tensor &av = a.get(), &bv = b.get();
        const Tensor r = g / (av * av + bv * bv);
        return {ga ? sum_to(r * bv, av.shape()) : Tensor(),
                gb ? sum_to(-(r * av), bv.shape()) : Tensor()};
      },
      [&a, &b](const TangentList& t, const Tensor&) {
        return (t[0] * b - t[1] * a) / (a * a + b * b);
      });
}

// ---------------------------------------------------------------- max / min / clamp / where

namespace {
// Mask of where a wins over b, with ties counting one half.
Tensor win_mask(const Tensor& a, const Tensor& b, bool larger) {
  return map_binary(a, b, larger ? "maximum" : "minimum", fn::WinMask{larger});
}

Tensor extremum(const Tensor& a, const Tensor& b, bool larger) {
  const char* op = larger ? "maximum" : "minimum";
  // NaN propagates from either side (as PyTorch): x != x picks a NaN x; a NaN y loses x >= y.
  Tensor out = larger ? map_binary(a, b, op, fn::Maximum{}) : map_binary(a, b, op, fn::Minimum{});
  // d max(a,b)/da = [a > b] + 0.5 [a == b]
  return record(
      op, out, {a, b},
      [a = SavedTensor(a, op), b = SavedTensor(b, op), larger](const Tensor& g,
                                                               const Tensor&) -> GradList {
        const Tensor &av = a.get(), &bv = b.get();
        Tensor m = win_mask(av, bv, larger);
        return {sum_to(g * m, av.shape()), sum_to(g * (1.0 - m), bv.shape())};
      },
      [&a, &b, larger](const TangentList& t, const Tensor&) {
        Tensor m = win_mask(a, b, larger);
        return t[0] * m + t[1] * (1.0 - m);
      });
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(a, b, false); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  if (lo > hi)
    throw std::invalid_argument(
        fmt::format("clamp: lower bound {} exceeds upper bound {}", lo, hi));
  Tensor out = map_unary(x, "clamp", fn::Clamp{lo, hi});
  auto inside = [lo, hi](const Tensor& v) { return map_unary(v, "clamp", fn::InsideMask{lo, hi}); };
  // d clamp(x)/dx = 1 inside [lo, hi], 0 outside
  return record(
      "clamp", out, {x},
      [x = SavedTensor(x, "clamp"), inside](const Tensor& g, const Tensor&) -> GradList {
        return {g * inside(x.get())};
      },
      [&x, inside](const TangentList& t, const Tensor&) { return t[0] * inside(x); });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const std::pair<Tensor, Tensor> ab = detail::promote(a, b, "where");
  const Dtype dtype = ab.first.dtype();
  const Shape shape =
      broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  // Broadcast all three to the output shape (raw copies), then select.
  const Tensor zero = zeros(shape, dtype);
  auto expand = [&zero](const Tensor& t) { return map_binary(t, zero, "where", fn::Add{}); };
  Tensor c = cond.dtype() == dtype ? cond : cond.detach().to(dtype);
  Tensor mask = map_binary(c, zero, "where", fn::NonzeroMask{});
  Tensor out = expand(ab.first);
  const Tensor bv = expand(ab.second);
  DAGRAD_DISPATCH_ALL(dtype, {
    T* po = out.data<T>();
    const T* pm = mask.data<T>();
    const T* pb = bv.data<T>();
    for (int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = pm[i] != 0 ? po[i] : pb[i];
  });
  // d where(c,a,b)/da = c, /db = 1 - c
  return record(
      "where", out, {a, b},
      [mask, sa = a.shape(), sb = b.shape()](const Tensor& g, const Tensor&) -> GradList {
        return {sum_to(g * mask, sa), sum_to(g * (1.0 - mask), sb)};
      },
      [&mask](const TangentList& t, const Tensor&) { return t[0] * mask + t[1] * (1.0 - mask); });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  return where(mask, full(Shape{}, value, x.dtype()), x);
}

// ---------------------------------------------------------------- comparisons

#define DAGRAD_COMPARE(NAME, CMP)                       \
  Tensor NAME(const Tensor& a, const Tensor& b) {       \
    return map_binary(a, b, #NAME, fn::Compare<CMP>{}); \
  }
DAGRAD_COMPARE(eq, std::equal_to<>)
DAGRAD_COMPARE(ne, std::not_equal_to<>)
DAGRAD_COMPARE(lt, std::less<>)
DAGRAD_COMPARE(le, std::less_equal<>)
DAGRAD_COMPARE(gt, std::greater<>)
DAGRAD_COMPARE(ge, std::greater_equal<>)
#undef DAGRAD_COMPARE

#define DAGRAD_COMPARE_SCALAR(NAME, CMP) \
  Tensor NAME(const Tensor& a, double s) { return map_unary(a, #NAME, fn::CompareScalar<CMP>{s}); }
DAGRAD_COMPARE_SCALAR(gt, std::greater<>)
DAGRAD_COMPARE_SCALAR(lt, std::less<>)
DAGRAD_COMPARE_SCALAR(ge, std::greater_equal<>)
DAGRAD_COMPARE_SCALAR(le, std::less_equal<>)
DAGRAD_COMPARE_SCALAR(eq, std::equal_to<>)
#undef DAGRAD_COMPARE_SCALAR

}  // namespace dagrad
