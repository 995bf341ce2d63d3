#!/usr/bin/python3
"""PyTorch's transfer-learning tutorial loop, as a user runs it (bench/finetune_vs_pytorch.sh):

  python3 bench/tutorial_finetune.py DATA_DIR START_PT SEED EPOCHS SIZE RESIZE ARM OUT_JSON

torchvision's ImageFolder + DataLoader (batch 4, shuffled, 1 worker), RandomResizedCrop(SIZE) +
RandomHorizontalFlip + ToTensor + Normalize for training, Resize(RESIZE) + CenterCrop(SIZE) for
validation, ResNet-18 from START_PT (a whole state dict, head included), SGD lr 0.001 momentum 0.9,
StepLR(7, 0.1), cross-entropy. ARM "all" trains every layer; "fc" is the tutorial's fixed feature
extractor (only the head's parameters are given to the optimizer; BatchNorm still in train mode).
Writes the validation accuracy of every epoch to OUT_JSON.
"""
import json
import sys

import torch
import torchvision
from torchvision import datasets, transforms


def main(data_dir, start, seed, epochs, size, resize, arm, out):
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    train_tf = transforms.Compose([transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), transforms.Normalize(mean, std)])
    val_tf = transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(size), transforms.ToTensor(),
                                 transforms.Normalize(mean, std)])
    train = datasets.ImageFolder(f"{data_dir}/train", train_tf)
    val = datasets.ImageFolder(f"{data_dir}/val", val_tf)
    train_loader = torch.utils.data.DataLoader(train, batch_size=4, shuffle=True, num_workers=1)
    val_loader = torch.utils.data.DataLoader(val, batch_size=32, shuffle=False, num_workers=1)
    model = torchvision.models.resnet18(num_classes=len(train.classes))
    model.load_state_dict(torch.load(start))
    if arm == "fc":
        for p in model.parameters():
            p.requires_grad = False
        for p in model.fc.parameters():
            p.requires_grad = True
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.001, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    accuracies = []
    for _ in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in val_loader:
                correct += (model(x).argmax(1) == y).sum().item()
        accuracies.append(correct / len(val))
    json.dump({"val_accuracy": accuracies}, open(out, "w"))


if __name__ == "__main__":
    if len(sys.argv) != 9:
        sys.exit(__doc__)
    a = sys.argv
    main(a[1], a[2], int(a[3]), int(a[4]), int(a[5]), int(a[6]), a[7], a[8])
