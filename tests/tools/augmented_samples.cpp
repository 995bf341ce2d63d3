// What the trainer's training pipeline makes of an image folder in one epoch, for comparing with
// torchvision's transforms given the same draws (tests/integration/pipeline_parity.sh):
//   augmented_samples DATA_DIR SEED EPOCH IMAGE_SIZE RESIZE OUT
// OUT.txt: one line per sample in the order one rank visits them in EPOCH (0-based):
//   index label top left height width flip path
// OUT.f32: the samples as the trainer's batches hold them, 3 x IMAGE_SIZE x IMAGE_SIZE float32
// each, in the same order.

#include "data/image_folder.h"
#include "data/sampler.h"

#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <iostream>

int main(int argc, char** argv) {
  using namespace trainer::data;
  if (argc != 7) {
    std::cerr << "usage: augmented_samples DATA_DIR SEED EPOCH IMAGE_SIZE RESIZE OUT\n";
    return 2;
  }
  try {
    DataConfig config;
    config.dataset = "image-folder";
    config.data_dir = argv[1];
    config.seed = std::stoull(argv[2]);
    const std::int64_t epoch = std::stoll(argv[3]);
    config.images.image_size = std::stoll(argv[4]);
    config.images.resize = std::stoll(argv[5]);
    const std::string out = argv[6];
    const ImageFolderDataset dataset(list_image_folder(config.data_dir + "/train"), config, Split::kTrain);
    const std::vector<std::int64_t> order = DistributedSampler(dataset.size(), 0, 1, config.seed).indices(epoch);
    const Batch batch = dataset.batch(order, epoch);
    std::ofstream table(out + ".txt");
    for (std::size_t i = 0; i < order.size(); ++i) {
      const TrainDraw draw = dataset.augmentation(order[i], epoch);
      table << order[i] << ' ' << batch.labels[static_cast<std::int64_t>(i)].item<std::int64_t>() << ' ' << draw.box.top
            << ' ' << draw.box.left << ' ' << draw.box.height << ' ' << draw.box.width << ' ' << draw.flip << ' '
            << dataset.path(order[i]) << '\n';
    }
    const torch::Tensor images = batch.images.contiguous();
    std::ofstream(out + ".f32", std::ios::binary)
        .write(static_cast<const char*>(images.data_ptr()), static_cast<std::streamsize>(images.nbytes()));
    return table ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "augmented_samples: " << e.what() << '\n';
    return 1;
  }
}
