#include "data/filters.h"

#include "common/error.h"

#include <set>

namespace trainer::data {
namespace {

// A view that forwards everything to the data set below; subclasses change what they filter.
class View : public Dataset {
 public:
  explicit View(std::shared_ptr<const Dataset> base) : base_(std::move(base)) {}
  std::int64_t size() const override { return base_->size(); }
  std::int64_t num_classes() const override { return base_->num_classes(); }
  std::vector<std::int64_t> sample_shape() const override { return base_->sample_shape(); }
  torch::Tensor labels() const override { return base_->labels(); }
  Batch batch(torch::IntArrayRef indices, std::int64_t epoch) const override { return base_->batch(indices, epoch); }
  std::vector<std::string> class_names() const override { return base_->class_names(); }
  std::vector<std::string> notes() const override { return base_->notes(); }

 protected:
  std::shared_ptr<const Dataset> base_;
};

class ClassSubset : public View {
 public:
  ClassSubset(std::shared_ptr<const Dataset> base, const std::vector<std::int64_t>& classes) : View(std::move(base)) {
    // Old label -> new label, or -1 to drop.
    mapping_ = torch::full({base_->num_classes()}, -1, torch::kInt64);
    for (std::size_t i = 0; i < classes.size(); ++i) mapping_[classes[i]] = static_cast<std::int64_t>(i);
    const torch::Tensor relabeled = mapping_.index_select(0, base_->labels());
    kept_ = (relabeled >= 0).nonzero().squeeze(1).contiguous();
    labels_ = relabeled.index_select(0, kept_);
    classes_ = static_cast<std::int64_t>(classes.size());
    selected_ = classes;
    // A class without samples is a typo or the wrong data set, not a class to learn.
    const torch::Tensor counts = torch::bincount(labels_, {}, classes_);
    for (std::int64_t c = 0; c < classes_; ++c)
      if (counts[c].item<std::int64_t>() == 0)
        throw DataError("--classes: class " + std::to_string(classes[static_cast<std::size_t>(c)]) +
                        " has no samples in this data set");
  }
  std::int64_t size() const override { return kept_.size(0); }
  std::int64_t num_classes() const override { return classes_; }
  torch::Tensor labels() const override { return labels_; }
  std::vector<std::string> class_names() const override {
    const std::vector<std::string> names = base_->class_names();
    std::vector<std::string> kept;
    if (!names.empty())
      for (std::int64_t old : selected_) kept.push_back(names[static_cast<std::size_t>(old)]);
    return kept;
  }
  Batch batch(torch::IntArrayRef indices, std::int64_t epoch) const override {
    const torch::Tensor original = kept_.index_select(0, torch::tensor(indices, torch::kInt64)).contiguous();
    Batch batch = base_->batch(torch::IntArrayRef(original.data_ptr<std::int64_t>(), original.numel()), epoch);
    batch.labels = mapping_.index_select(0, batch.labels);
    return batch;
  }

 private:
  torch::Tensor mapping_, kept_, labels_;
  std::int64_t classes_ = 0;
  std::vector<std::int64_t> selected_;
};

class FirstSamples : public View {
 public:
  FirstSamples(std::shared_ptr<const Dataset> base, std::int64_t count) : View(std::move(base)), count_(count) {}
  std::int64_t size() const override { return count_; }
  torch::Tensor labels() const override { return base_->labels().slice(0, 0, count_); }

 private:
  std::int64_t count_;
};

class Normalized : public View {
 public:
  Normalized(std::shared_ptr<const Dataset> base, double mean, double std) : View(std::move(base)), mean_(mean), std_(std) {}
  Batch batch(torch::IntArrayRef indices, std::int64_t epoch) const override {
    Batch batch = base_->batch(indices, epoch);
    batch.images = batch.images.sub(mean_).div_(std_);  // sub: never write into the source's memory
    return batch;
  }

 private:
  double mean_, std_;
};

}  // namespace

std::optional<std::string> class_list_problem(const std::vector<std::int64_t>& classes) {
  if (classes.size() < 2) return "--classes: name at least two classes";
  std::set<std::int64_t> seen;
  for (std::int64_t c : classes) {
    if (c < 0) return "--classes: class " + std::to_string(c) + " is negative";
    if (!seen.insert(c).second) return "--classes: class " + std::to_string(c) + " is named twice";
  }
  return std::nullopt;
}

std::shared_ptr<const Dataset> select_classes(std::shared_ptr<const Dataset> data,
                                              const std::vector<std::int64_t>& classes) {
  if (auto problem = class_list_problem(classes)) throw DataError(*problem);
  for (std::int64_t c : classes)
    if (c >= data->num_classes())
      throw DataError("--classes: class " + std::to_string(c) + " is not in the data set (0.." +
                      std::to_string(data->num_classes() - 1) + ")");
  return std::make_shared<ClassSubset>(std::move(data), classes);
}

std::shared_ptr<const Dataset> take_first(std::shared_ptr<const Dataset> data, std::int64_t count) {
  if (count <= 0 || count >= data->size()) return data;
  return std::make_shared<FirstSamples>(std::move(data), count);
}

std::shared_ptr<const Dataset> normalize(std::shared_ptr<const Dataset> data, double mean, double std) {
  return std::make_shared<Normalized>(std::move(data), mean, std);
}

}  // namespace trainer::data
