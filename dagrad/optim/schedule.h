// Learning-rate schedules: the learning rate to use during an epoch (counted from 0), from
// the base rate. The Solver applies one after every epoch:
//   opt.set_learning_rate(schedule.lr(base_lr, epoch));
// so lr(base, 0) == base for every schedule.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dagrad/optim/optimizer.h"  // Config

namespace dagrad::optim {

class Schedule {
 public:
  virtual ~Schedule() = default;
  // A negative epoch is std::invalid_argument.
  virtual double lr(double base_lr, int64_t epoch) const = 0;
  virtual std::string name() const = 0;
};

// base (no decay).
class ConstantSchedule : public Schedule {
 public:
  double lr(double base_lr, int64_t epoch) const override;
  std::string name() const override { return "constant"; }
};

// base * decay^epoch — cs231n's per-epoch lr_decay. decay > 0.
class ExponentialDecay : public Schedule {
 public:
  explicit ExponentialDecay(double decay);
  double lr(double base_lr, int64_t epoch) const override;
  std::string name() const override { return "exponential"; }
  double decay() const { return decay_; }

 private:
  double decay_;
};

// base * gamma^floor(epoch / step_size) — PyTorch's StepLR. step_size >= 1, gamma > 0.
class StepDecay : public Schedule {
 public:
  StepDecay(int64_t step_size, double gamma);
  double lr(double base_lr, int64_t epoch) const override;
  std::string name() const override { return "step"; }

 private:
  int64_t step_size_;
  double gamma_;
};

// base / (1 + k*epoch) — the "1/t" schedule. k >= 0.
class InverseTimeDecay : public Schedule {
 public:
  explicit InverseTimeDecay(double k);
  double lr(double base_lr, int64_t epoch) const override;
  std::string name() const override { return "inverse_time"; }

 private:
  double k_;
};

// base / sqrt(1 + k*epoch) — the course's a0 / sqrt(t), counted so that epoch 0 runs at base.
// k >= 0.
class InverseSqrtDecay : public Schedule {
 public:
  explicit InverseSqrtDecay(double k);
  double lr(double base_lr, int64_t epoch) const override;
  std::string name() const override { return "inverse_sqrt"; }

 private:
  double k_;
};

// min_lr + (base - min_lr) * (1 + cos(pi * epoch / total_epochs)) / 2 for epoch <=
// total_epochs, and min_lr after that (PyTorch's CosineAnnealingLR closed form, except that
// it stays at min_lr instead of rising again). total_epochs >= 1, min_lr >= 0.
class CosineDecay : public Schedule {
 public:
  CosineDecay(int64_t total_epochs, double min_lr = 0.0);
  double lr(double base_lr, int64_t epoch) const override;
  std::string name() const override { return "cosine"; }

 private:
  int64_t total_;
  double min_lr_;
};

// The valid schedule names, in a fixed order.
const std::vector<std::string>& schedule_names();

// Builds a schedule by name; config keys (defaults):
//   constant:      (none)
//   exponential:   decay (0.95)
//   step:          step_size (10), gamma (0.1)
//   inverse_time:  k (1.0)
//   cosine:        total_epochs (required), min_lr (0)
// An unknown name, unknown key, missing required key, or bad value is std::invalid_argument.
std::unique_ptr<Schedule> make_schedule(const std::string& name, const Config& config = {});

}  // namespace dagrad::optim
