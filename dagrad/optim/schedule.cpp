#include "dagrad/optim/schedule.h"

#include <fmt/format.h>

#include <cmath>
#include <numbers>
#include <stdexcept>

namespace dagrad::optim {

namespace {

void check_epoch(const Schedule& s, int64_t epoch) {
  if (epoch < 0)
    throw std::invalid_argument(
        fmt::format("{} schedule: epoch must be >= 0, got {}", s.name(), epoch));
}

// An integer-valued config entry (e.g. step_size) given as a double.
int64_t as_count(const std::string& sched, const std::string& key, double v) {
  if (!std::isfinite(v) || v != std::floor(v))
    throw std::invalid_argument(
        fmt::format("{} schedule: '{}' must be a whole number, got {}", sched, key, v));
  return static_cast<int64_t>(v);
}

}  // namespace

double ConstantSchedule::lr(double base_lr, int64_t epoch) const {
  check_epoch(*this, epoch);
  return base_lr;
}

ExponentialDecay::ExponentialDecay(double decay) : decay_(decay) {
  if (!(decay > 0) || !std::isfinite(decay))
    throw std::invalid_argument(
        fmt::format("exponential schedule: decay must be > 0, got {}", decay));
}

double ExponentialDecay::lr(double base_lr, int64_t epoch) const {
  check_epoch(*this, epoch);
  return base_lr * std::pow(decay_, static_cast<double>(epoch));
}

StepDecay::StepDecay(int64_t step_size, double gamma) : step_size_(step_size), gamma_(gamma) {
  if (step_size < 1)
    throw std::invalid_argument(
        fmt::format("step schedule: step_size must be >= 1, got {}", step_size));
  if (!(gamma > 0) || !std::isfinite(gamma))
    throw std::invalid_argument(fmt::format("step schedule: gamma must be > 0, got {}", gamma));
}

double StepDecay::lr(double base_lr, int64_t epoch) const {
  check_epoch(*this, epoch);
  return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

InverseTimeDecay::InverseTimeDecay(double k) : k_(k) {
  if (!(k >= 0) || !std::isfinite(k))
    throw std::invalid_argument(fmt::format("inverse_time schedule: k must be >= 0, got {}", k));
}

double InverseTimeDecay::lr(double base_lr, int64_t epoch) const {
  check_epoch(*this, epoch);
  return base_lr / (1 + k_ * static_cast<double>(epoch));
}

InverseSqrtDecay::InverseSqrtDecay(double k) : k_(k) {
  if (!(k >= 0) || !std::isfinite(k))
    throw std::invalid_argument(fmt::format("inverse_sqrt schedule: k must be >= 0, got {}", k));
}

double InverseSqrtDecay::lr(double base_lr, int64_t epoch) const {
  check_epoch(*this, epoch);
  return base_lr / std::sqrt(1 + k_ * static_cast<double>(epoch));
}

CosineDecay::CosineDecay(int64_t total_epochs, double min_lr)
    : total_(total_epochs), min_lr_(min_lr) {
  if (total_epochs < 1)
    throw std::invalid_argument(
        fmt::format("cosine schedule: total_epochs must be >= 1, got {}", total_epochs));
  if (!(min_lr >= 0) || !std::isfinite(min_lr))
    throw std::invalid_argument(
        fmt::format("cosine schedule: min_lr must be >= 0, got {}", min_lr));
}

double CosineDecay::lr(double base_lr, int64_t epoch) const {
  check_epoch(*this, epoch);
  if (epoch >= total_) return min_lr_;
  const double frac = static_cast<double>(epoch) / static_cast<double>(total_);
  return min_lr_ + (base_lr - min_lr_) * (1 + std::cos(std::numbers::pi * frac)) / 2;
}

const std::vector<std::string>& schedule_names() {
  static const std::vector<std::string> names = {"constant",     "exponential",  "step",
                                                 "inverse_time", "inverse_sqrt", "cosine"};
  return names;
}

std::unique_ptr<Schedule> make_schedule(const std::string& name, const Config& config) {
  // Valid keys and defaults per schedule; NAN marks a required key.
  Config defaults;
  if (name == "constant") {
  } else if (name == "exponential") {
    defaults = {{"decay", 0.95}};
  } else if (name == "step") {
    defaults = {{"step_size", 10}, {"gamma", 0.1}};
  } else if (name == "inverse_time" || name == "inverse_sqrt") {
    defaults = {{"k", 1.0}};
  } else if (name == "cosine") {
    defaults = {{"total_epochs", NAN}, {"min_lr", 0.0}};
  } else {
    std::string valid;
    for (const auto& n : schedule_names()) valid += (valid.empty() ? "" : ", ") + n;
    throw std::invalid_argument(
        fmt::format("make_schedule: unknown schedule '{}' (valid: {})", name, valid));
  }
  Config c = defaults;
  for (const auto& [k, v] : config) {
    if (!defaults.count(k)) {
      std::string valid;
      for (const auto& [dk, dv] : defaults) valid += (valid.empty() ? "" : ", ") + dk;
      throw std::invalid_argument(fmt::format("{} schedule: unknown config key '{}' (valid: {})",
                                              name, k, valid.empty() ? "none" : valid));
    }
    c[k] = v;
  }
  for (const auto& [k, v] : c)
    if (std::isnan(v) && !config.count(k))
      throw std::invalid_argument(fmt::format("{} schedule: config key '{}' is required", name, k));
  if (name == "exponential") return std::make_unique<ExponentialDecay>(c.at("decay"));
  if (name == "step")
    return std::make_unique<StepDecay>(as_count(name, "step_size", c.at("step_size")),
                                       c.at("gamma"));
  if (name == "inverse_time") return std::make_unique<InverseTimeDecay>(c.at("k"));
  if (name == "inverse_sqrt") return std::make_unique<InverseSqrtDecay>(c.at("k"));
  if (name == "cosine")
    return std::make_unique<CosineDecay>(as_count(name, "total_epochs", c.at("total_epochs")),
                                         c.at("min_lr"));
  return std::make_unique<ConstantSchedule>();
}

}  // namespace dagrad::optim
