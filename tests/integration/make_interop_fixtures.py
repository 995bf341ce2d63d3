#!/usr/bin/env python3
"""Writes the Python-side fixtures of the interoperability tests (test-only; needs Python's torch,
torchvision and h5py: Debian's for the LibTorch 1.13 build, the venv's for the 2.x build):

  models.h5   for lenet and resnet18: every state-dict tensor under /<model>/state/<name>, an input
              batch under /<model>/input and PyTorch's eval-mode logits under /<model>/logits;
              the initial weights a seed gives (torch.manual_seed(7), then the model) under
              /<model>/seed7/<name>.
  resnet18_dataparallel.pt, resnet18_dp_io.h5   torchvision's ResNet-18 saved by torch.save under
              nn.DataParallel, with an input batch and its eval-mode logits (too large to commit)
  user_train.h5, user_test.h5   a user's own data set written by h5py (chunked, gzip-compressed,
              uint8 N x H x W images, int32 labels): two classes that differ in which half is bright.
  schedules.json, optimizers.json   PyTorch's LR sequences and optimizer steps
              (tests/interop/make_optim_fixtures.py).
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_pt_fixtures import LeNet  # noqa: E402  (one definition for every fixture)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from make_optim_fixtures import write_optim_fixtures  # noqa: E402


def lenet(num_classes):
    # The PyTorch tutorial's LeNet as two nn.Sequential blocks: trainer's names must match these.
    return LeNet(num_classes)


def write_model(out, name, model, input_shape):
    model.eval()
    # Non-trivial BatchNorm statistics, so that the test covers eval-mode normalization too.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.num_batches_tracked.fill_(7)
    x = torch.randn(*input_shape)
    with torch.no_grad():
        logits = model(x)
    group = out.create_group(name)
    for key, tensor in model.state_dict().items():
        group.create_dataset("state/" + key, data=tensor.numpy())
    group.create_dataset("input", data=x.numpy())
    group.create_dataset("logits", data=logits.numpy())


def write_user_data(path, n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n).astype(np.int32)
    images = rng.integers(0, 60, size=(n, 32, 32)).astype(np.uint8)
    for i, label in enumerate(labels):
        half = slice(0, 16) if label == 0 else slice(16, 32)
        images[i, half, :] += 150
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images, chunks=(64, 32, 32), compression="gzip")
        f.create_dataset("labels", data=labels)


def write_initial(out, name, make):
    torch.manual_seed(7)
    for key, tensor in make().state_dict().items():
        out.create_dataset(f"{name}/seed7/{key}", data=tensor.numpy())


def main(out_dir):
    torch.manual_seed(0)
    with h5py.File(f"{out_dir}/models.h5", "w") as out:
        write_model(out, "lenet", lenet(10), (4, 1, 32, 32))
        write_model(out, "resnet18", torchvision.models.resnet18(num_classes=10), (2, 3, 32, 32))
        write_initial(out, "lenet", lambda: lenet(10))
        write_initial(out, "resnet18", lambda: torchvision.models.resnet18(num_classes=10))
    # torchvision's ResNet-18 saved under DataParallel, as a multi-GPU user would have it.
    torch.manual_seed(1)
    resnet = torchvision.models.resnet18(num_classes=10)
    with h5py.File(f"{out_dir}/resnet18_dp_io.h5", "w") as out:
        write_model(out, "resnet18", resnet, (2, 3, 32, 32))
    torch.save(nn.DataParallel(resnet).state_dict(), f"{out_dir}/resnet18_dataparallel.pt")
    write_user_data(f"{out_dir}/user_train.h5", 512, 1)
    write_user_data(f"{out_dir}/user_test.h5", 256, 2)
    write_optim_fixtures(out_dir)


if __name__ == "__main__":
    main(sys.argv[1])
