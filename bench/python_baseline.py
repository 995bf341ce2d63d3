#!/usr/bin/python3
"""What users would run instead, measured on the same machine by bench/run.sh (Debian's python3-torch).

  torchrun --nproc_per_node=N --redirects 1 --tee 1 bench/python_baseline.py ddp LIMIT BATCH [MODEL [WORKERS]]
      LeNet on the real Fashion-MNIST (the same padding and normalization as trainer), or with
      MODEL resnet18 torchvision's ResNet-18 on LIMIT random 3x32x32 images (trainer's synthetic
      data), SGD with momentum, DistributedDataParallel over gloo, one intra-op thread per process,
      a DataLoader with WORKERS worker processes (default 0); prints the training samples/s of the
      second epoch over LIMIT samples, all ranks together.
  python3 bench/python_baseline.py save DIR
      torch.save / torch.load of ResNet-18 + Adam state (what a checkpoint holds) with fsync, as a
      PyTorch user's checkpoint dict; prints seconds and MB.
"""
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures"))
from make_pt_fixtures import LeNet  # noqa: E402  (the same network as trainer's lenet)

DATA = "/usr/share/datasets/fashion-mnist"


def idx(name):
    with gzip.open(os.path.join(DATA, name + ".gz"), "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def ddp(limit, batch, model_name="lenet", workers=0):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    if model_name == "resnet18":
        import torchvision

        images, labels = torch.randn(limit, 3, 32, 32), torch.randint(0, 10, (limit,))
        network = torchvision.models.resnet18(num_classes=10)
    else:
        images = torch.from_numpy(idx("train-images-idx3-ubyte")[:limit].copy()).float().div(255)
        images = nn.functional.pad(images, (2, 2, 2, 2)).sub(0.2860).div(0.3530).unsqueeze(1)
        labels = torch.from_numpy(idx("train-labels-idx1-ubyte")[:limit].astype(np.int64))
        network = LeNet()
    data = TensorDataset(images, labels)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=batch, sampler=sampler, num_workers=workers,
                        persistent_workers=workers > 0)
    model = DistributedDataParallel(network)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    for epoch in range(2):  # the first epoch warms up; the second is measured
        sampler.set_epoch(epoch)
        dist.barrier()
        start = time.perf_counter()
        seen = 0
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            seen += len(y)
        total = torch.tensor([seen], dtype=torch.float64)
        dist.all_reduce(total)
        elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
        dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
    if rank == 0:
        print(f"ddp samples/s {total.item() / elapsed.item():.0f}")
    dist.destroy_process_group()


def save(directory):
    import torchvision

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    nn.functional.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([0, 1])).backward()
    optimizer.step()
    checkpoint = {"model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict(), "epoch": 1}
    path = os.path.join(directory, "checkpoint.pt")
    saves, loads = [], []
    for _ in range(5):
        start = time.perf_counter()
        with open(path, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        saves.append(time.perf_counter() - start)
        start = time.perf_counter()
        torch.load(path)
        loads.append(time.perf_counter() - start)
    print(f"torch.save+fsync {sorted(saves)[2]:.3f} s torch.load {sorted(loads)[2]:.3f} s "
          f"{os.path.getsize(path) / 1e6:.1f} MB")


if __name__ == "__main__":
    if sys.argv[1] == "ddp":
        ddp(int(sys.argv[2]), int(sys.argv[3]), *(sys.argv[4:5]), *[int(w) for w in sys.argv[5:6]])
    elif sys.argv[1] == "save":
        save(sys.argv[2])
    else:
        sys.exit(__doc__)
