// NoteSavedTensors: the saved-tensor hook behind the graph page's "saved" lists.
#include <utility>

#include "dagrad/viz/graph.h"

namespace dagrad::viz {

namespace {

struct SavedNote final : NodeNote {
  std::vector<SavedInfo> saved;
};

class SavedTensorNoter final : public SavedTensorHook {
 public:
  void on_save(const Tensor& t) override {
    if (t.defined()) pending_.push_back({&t.impl(), {"other", t.shape(), t.dtype()}});
  }

  // The saves since the last op, each named by the input it is (if any), plus the kept output.
  std::unique_ptr<NodeNote> on_record(const Tensor& out, InputList inputs,
                                      bool keeps_output) override {
    std::vector<std::pair<const TensorImpl*, SavedInfo>> notes = std::exchange(pending_, {});
    if (notes.empty() && !keeps_output) return nullptr;
    auto note = std::make_unique<SavedNote>();
    for (auto& [impl, info] : notes) {
      int k = 0;
      for (const Tensor& t : inputs) {
        if (&t.impl() == impl) {
          info.role = "input " + std::to_string(k);
          break;
        }
        ++k;
      }
      note->saved.push_back(std::move(info));
    }
    if (keeps_output) note->saved.push_back({"output", out.shape(), out.dtype()});
    return note;
  }

 private:
  std::vector<std::pair<const TensorImpl*, SavedInfo>> pending_;
};

}  // namespace

NoteSavedTensors::NoteSavedTensors()
    : hook_(std::make_unique<SavedTensorNoter>()), previous_(set_saved_tensor_hook(hook_.get())) {}

NoteSavedTensors::~NoteSavedTensors() { set_saved_tensor_hook(previous_); }

const std::vector<SavedInfo>& saved_tensors_of(const Node& node) {
  static const std::vector<SavedInfo> none;
  const auto* note = dynamic_cast<const SavedNote*>(node.note.get());
  return note ? note->saved : none;
}

}  // namespace dagrad::viz
