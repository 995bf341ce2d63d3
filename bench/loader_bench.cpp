// Decode + augment throughput of the image-folder loader: one epoch of an image folder's training
// split through data::BatchLoader with K worker threads (the tutorial's RandomResizedCrop(224) +
// RandomHorizontalFlip + Normalize by default), images/s; nothing else runs. Checked: the batches
// with K workers are the same bits as with one.
//
//   build/bin/loader_bench DIR [WORKERS...] [--batch B] [--image-size S] [--eval-dump FILE.h5]
// --eval-dump writes every image of DIR through the evaluation pipeline (Resize + CenterCrop +
// Normalize) to FILE.h5 (/images, /labels), for comparison with torchvision's.

#include "common/clock.h"
#include "data/loader.h"
#include "data/registry.h"
#include "storage/tensor_file.h"

#include <torch/types.h>
#include <torch/utils.h>

#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

namespace {

using namespace trainer;

struct Run {
  double images_per_second = 0;
  torch::Tensor checksum;  // of every batch, in order
};

Run one_epoch(const data::Dataset& folder, std::int64_t workers, std::int64_t batch) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(folder.size()));
  std::iota(order.begin(), order.end(), 0);
  std::vector<data::BatchRequest> requests;
  for (std::int64_t first = 0; first < folder.size(); first += batch)
    requests.push_back({order.data() + first, std::min(batch, folder.size() - first)});
  const std::size_t count = requests.size();
  const auto start = Clock::now();
  data::BatchLoader loader(folder, std::move(requests), /*epoch=*/1, workers, 2 * std::max<std::int64_t>(workers, 1));
  Run run;
  std::vector<torch::Tensor> sums;
  for (std::size_t i = 0; i < count; ++i) sums.push_back(loader.next().images.sum({1, 2, 3}));
  run.images_per_second = static_cast<double>(folder.size()) / seconds_since(start);
  run.checksum = torch::cat(sums);
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: loader_bench DIR [WORKERS...] [--batch B] [--image-size S]\n");
    return 2;
  }
  data::DataConfig config;
  config.dataset = "image-folder";
  config.train_dir = argv[1];
  std::vector<std::int64_t> workers;
  std::int64_t batch = 32;
  std::string eval_dump;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--batch" && i + 1 < argc) batch = std::atoll(argv[++i]);
    else if (arg == "--image-size" && i + 1 < argc) config.images.image_size = std::atoll(argv[++i]);
    else if (arg == "--resize" && i + 1 < argc) config.images.resize = std::atoll(argv[++i]);
    else if (arg == "--eval-dump" && i + 1 < argc) eval_dump = argv[++i];
    else workers.push_back(std::atoll(argv[i]));
  }
  if (workers.empty()) workers = {1, 2};
  torch::set_num_threads(1);  // as a DataLoader worker process runs
  if (!eval_dump.empty()) {
    config.val_dir = config.train_dir;  // the folder, through the evaluation pipeline
    const auto folder = data::make_dataset(config, data::Split::kTest);
    const data::Batch all = data::batch_of_range(*folder, 0, folder->size());
    storage::write_tensors(eval_dump, "", {{"images", all.images}, {"labels", all.labels}});
    std::printf("%lld images through the evaluation pipeline written to %s\n", static_cast<long long>(folder->size()),
                eval_dump.c_str());
    return 0;
  }
  const auto folder = data::make_dataset(config, data::Split::kTrain);
  std::printf("# loader_bench: %lld images in %s, batch %lld, RandomResizedCrop(%lld) + flip + normalize\n",
              static_cast<long long>(folder->size()), argv[1], static_cast<long long>(batch),
              static_cast<long long>(config.images.image_size));
  const Run reference = one_epoch(*folder, 1, batch);
  bool same = true;
  for (std::int64_t k : workers) {
    const Run run = one_epoch(*folder, k, batch);
    same = same && run.checksum.equal(reference.checksum);
    std::printf("workers %lld: %8.1f images/s\n", static_cast<long long>(k), run.images_per_second);
  }
  std::printf("check: the batches with every worker count are the same bits as with one: %s\n", same ? "OK" : "WRONG");
  return same ? 0 : 1;
}
