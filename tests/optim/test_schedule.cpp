#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "dagrad/optim/schedule.h"

using namespace dagrad::optim;

TEST_CASE("schedule: exponential decay is base*decay^epoch") {
  ExponentialDecay s(0.95);
  CHECK(s.lr(0.1, 0) == 0.1);
  CHECK(s.lr(0.1, 1) == doctest::Approx(0.095).epsilon(1e-15));
  CHECK(s.lr(0.1, 2) == doctest::Approx(0.09025).epsilon(1e-15));
  CHECK(s.lr(0.1, 10) == doctest::Approx(0.1 * 0.5987369392383789).epsilon(1e-14));
  // the Solver's repeated lr *= lr_decay gives the same numbers
  double lr = 0.1;
  for (int e = 0; e < 7; ++e) lr *= 0.95;
  CHECK(s.lr(0.1, 7) == doctest::Approx(lr).epsilon(1e-14));
  CHECK(ExponentialDecay(1.0).lr(3e-3, 50) == 3e-3);
}

TEST_CASE("schedule: step decay drops by gamma every step_size epochs") {
  StepDecay s(3, 0.1);
  CHECK(s.lr(1.0, 0) == 1.0);
  CHECK(s.lr(1.0, 2) == 1.0);
  CHECK(s.lr(1.0, 3) == doctest::Approx(0.1).epsilon(1e-15));
  CHECK(s.lr(1.0, 5) == doctest::Approx(0.1).epsilon(1e-15));
  CHECK(s.lr(1.0, 6) == doctest::Approx(0.01).epsilon(1e-15));
  CHECK(s.lr(2.0, 9) == doctest::Approx(0.002).epsilon(1e-15));
}

TEST_CASE("schedule: inverse square-root decay is base/sqrt(1+k*epoch)") {
  InverseSqrtDecay s(1.0);
  CHECK(s.lr(0.3, 0) == 0.3);
  CHECK(s.lr(0.3, 3) == doctest::Approx(0.15).epsilon(1e-15));  // a0 / sqrt(4)
  CHECK(s.lr(0.3, 8) == doctest::Approx(0.1).epsilon(1e-15));   // a0 / sqrt(9)
  CHECK(InverseSqrtDecay(0.0).lr(0.3, 5) == 0.3);
  CHECK(make_schedule("inverse_sqrt", {{"k", 3}})->lr(2.0, 5) ==
        doctest::Approx(0.5).epsilon(1e-15));
  CHECK(make_schedule("inverse_sqrt")->name() == "inverse_sqrt");
  CHECK_THROWS_WITH_AS(make_schedule("inverse_sqrt", {{"k", -1}}),
                       "inverse_sqrt schedule: k must be >= 0, got -1", std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_schedule("inverse_sqrt", {{"step_size", 1}}),
                       "inverse_sqrt schedule: unknown config key 'step_size' (valid: k)",
                       std::invalid_argument);
}

TEST_CASE("schedule: inverse time decay is base/(1+k*epoch)") {
  InverseTimeDecay s(0.5);
  CHECK(s.lr(0.2, 0) == 0.2);
  CHECK(s.lr(0.2, 1) == doctest::Approx(0.2 / 1.5).epsilon(1e-15));
  CHECK(s.lr(0.2, 2) == doctest::Approx(0.1).epsilon(1e-15));
  CHECK(s.lr(0.2, 8) == doctest::Approx(0.04).epsilon(1e-15));
}

TEST_CASE("schedule: cosine decay from base to min_lr") {
  CosineDecay s(10, 0.001);
  CHECK(s.lr(0.1, 0) == doctest::Approx(0.1).epsilon(1e-15));
  // halfway: cos(pi/2) = 0 -> the midpoint of base and min_lr
  CHECK(s.lr(0.1, 5) == doctest::Approx(0.0505).epsilon(1e-14));
  // epoch 2: 0.001 + 0.099 * (1 + cos(0.2*pi)) / 2, cos(0.2 pi) = 0.8090169943749475
  CHECK(s.lr(0.1, 2) == doctest::Approx(0.001 + 0.099 * 1.8090169943749475 / 2).epsilon(1e-14));
  CHECK(s.lr(0.1, 10) == doctest::Approx(0.001).epsilon(1e-14));
  CHECK(s.lr(0.1, 25) == 0.001);  // stays at min_lr past the end
  // monotone non-increasing
  for (int e = 0; e < 12; ++e) CHECK(s.lr(0.1, e + 1) <= s.lr(0.1, e));
}

TEST_CASE("schedule: make_schedule by name with defaults") {
  auto e = make_schedule("exponential");
  CHECK(e->name() == "exponential");
  CHECK(e->lr(1.0, 2) == doctest::Approx(0.9025).epsilon(1e-15));  // decay 0.95
  CHECK(make_schedule("exponential", {{"decay", 0.5}})->lr(1.0, 3) == 0.125);
  CHECK(make_schedule("step")->lr(1.0, 10) == doctest::Approx(0.1).epsilon(1e-15));
  CHECK(make_schedule("step")->lr(1.0, 9) == 1.0);
  CHECK(make_schedule("step", {{"step_size", 2}, {"gamma", 0.5}})->lr(1.0, 5) == 0.25);
  CHECK(make_schedule("inverse_time")->lr(1.0, 3) == 0.25);  // k = 1
  CHECK(make_schedule("cosine", {{"total_epochs", 4}})->lr(1.0, 2) ==
        doctest::Approx(0.5).epsilon(1e-15));
  CHECK(make_schedule("constant")->lr(0.3, 100) == 0.3);
}

TEST_CASE("schedule: errors") {
  CHECK_THROWS_WITH_AS(make_schedule("linear"), doctest::Contains("unknown schedule 'linear'"),
                       std::invalid_argument);
  try {
    make_schedule("plateau");
    FAIL("no throw");
  } catch (const std::invalid_argument& ex) {
    const std::string m = ex.what();
    for (const auto& n : schedule_names()) CHECK(m.find(n) != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(make_schedule("step", {{"decay", 0.9}}),
                       doctest::Contains("step schedule: unknown config key 'decay'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_schedule("cosine"), doctest::Contains("'total_epochs' is required"),
                       std::invalid_argument);
  CHECK_THROWS_AS(make_schedule("step", {{"step_size", 2.5}}), std::invalid_argument);
  CHECK_THROWS_AS(make_schedule("step", {{"step_size", 0}}), std::invalid_argument);
  CHECK_THROWS_AS(make_schedule("exponential", {{"decay", 0}}), std::invalid_argument);
  CHECK_THROWS_AS(make_schedule("inverse_time", {{"k", -1}}), std::invalid_argument);
  CHECK_THROWS_AS(make_schedule("cosine", {{"total_epochs", 0}}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ExponentialDecay(0.9).lr(1.0, -1), doctest::Contains("epoch must be >= 0"),
                       std::invalid_argument);
}
