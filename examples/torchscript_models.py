#!/usr/bin/env python3
"""Models a user writes in Python, scripted for `trainer --model FILE`.

    python3 examples/torchscript_models.py OUT_DIR [--classes N] [--channels C] [--seed S]

writes OUT_DIR/small_cnn.ts, OUT_DIR/mlp.ts and OUT_DIR/tiny_vit.ts and prints the `mpirun` command
that trains each on Fashion-MNIST (28x28 images zero-padded to 32x32, 1 channel, 10 classes).

The contract: forward takes one Tensor of images N x C x H x W and returns one Tensor of logits
N x classes. The trainer keeps the module's own parameter and buffer names in its checkpoints and
exports, so `trainer export` gives a state dict this file's eager classes load with strict=True.
"""
import argparse
import os

import torch
import torch.nn as nn


class SmallCNN(nn.Module):
    """Two conv blocks with BatchNorm, dropout before the classifier."""

    def __init__(self, channels: int = 1, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(4))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 16, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class MLP(nn.Module):
    """Flattened pixels through two hidden layers."""

    def __init__(self, channels: int = 1, classes: int = 10, size: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, 256), nn.ReLU(),
                                 nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TinyViT(nn.Module):
    """A vision transformer in miniature: 8x8 patches, 2 encoder layers, a class token."""

    def __init__(self, channels: int = 1, classes: int = 10, size: int = 32, patch: int = 8, dim: int = 64):
        super().__init__()
        self.patches = nn.Conv2d(channels, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=128, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patches(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls_token.expand(tokens.size(0), -1, -1), tokens], dim=1) + self.position
        return self.head(self.norm(self.encoder(tokens)[:, 0]))


MODELS = {"small_cnn": SmallCNN, "mlp": MLP, "tiny_vit": TinyViT}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="the initial weights' seed")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    for name, make in MODELS.items():
        torch.manual_seed(args.seed)
        path = os.path.join(args.out_dir, f"{name}.ts")
        torch.jit.script(make(args.channels, args.classes)).save(path)
        print(f"mpirun -np 2 build/bin/trainer --model {path} --epochs 3 --checkpoint-dir runs/{name}")


if __name__ == "__main__":
    main()
