#!/usr/bin/env python3
"""Crafted files for the hostile-input tests: each one what a careless or hostile user could hand
the trainer. Test-only (h5py, numpy, Python's torch).

  craft.py pt-expanded OUT.pt              a tensor viewing one float 10^8 times (stride 0)
  craft.py pt-wrapping OUT.pt              a tensor whose sizes overflow when multiplied
  craft.py pt-with-junk OUT.pt MB          LeNet's weights plus an unrelated MB-megabyte tensor
  craft.py h5-bomb OUT.h5                  /images announcing 25 GB in a file of a few KB (gzip)
  craft.py h5-values OUT.h5 KIND           64 images of 1x32x32: clean (labels 0, 1 and one 9), or holding
                                           a nan (nan), 3e38 everywhere (huge), a label of 10^6 (label)
  craft.py set-attr CKPT GROUP NAME VALUE  an attribute of index.h5 replaced (VALUE: int, float or 'text'), and
                                           the metadata checksum written again (a hostile, not a damaged, file)
  craft.py flip-attr CKPT GROUP NAME       one bit of an int or float attribute flipped, the checksum left
  craft.py pt-resume IN.pt OUT.pt KIND     an exported checkpoint dict changed: its epoch a float, nan, str or
                                           bool (epoch-float|epoch-nan|epoch-str|epoch-bool), its lr nan or a
                                           string (lr-nan|lr-str), or a weight NaN (nan-weight)
  craft.py torchscript OUT.pt KIND         a scripted model taking 1x32x32 images to 10 logits: fine (good),
                                           fp16 parameters (half), a complex one (complex), sparse gradients
                                           (sparse), other logits in training mode (train-mode) or past
                                           batch 2 (batch2), a tensor record
                                           shorter than its storage (short), a code record that inflates to
                                           300 MB (inflate-bomb), the archive cut short (truncated)
  craft.py image OUT KIND                  png-bomb: a 16000x16000 1-bit PNG (a few KB); png-header: a PNG
                                           header claiming 9000x9000 and no data; jpeg-large: a 12000x12000
                                           grayscale JPEG (past PIL's pixel limit; decoded at 1/2)
  craft.py cycle CKPT                      a hard link /model/nest/loop -> /model/nest inside index.h5
  craft.py link-outside CKPT FILE          /model/features.0.bias linked to a file outside the checkpoint
  craft.py replace-tensor CKPT PATH KIND   a tensor in its shard replaced (KIND: int64|shape|huge)
"""
import collections
import io
import os
import pickle
import struct
import sys
import zipfile

import h5py
import numpy as np


def fake_pt(out, size, stride, numel):
    """A torch.save archive of {"w": tensor} with the given view over a float storage of numel."""
    import torch

    class Storage:
        pass

    class Tensor:
        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2,
                    (Storage(), 0, tuple(size), tuple(stride), False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", torch.FloatStorage, "0", "cpu", numel)
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(collections.OrderedDict([("w", Tensor())]))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buffer.getvalue())
        z.writestr("archive/data/0", b"\0" * 4 * numel)
        z.writestr("archive/version", "3\n")


def pt_with_junk(out, megabytes):
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
    from make_pt_fixtures import LeNet
    state = LeNet().state_dict()
    state["junk"] = torch.zeros(int(megabytes) * (1 << 20) // 4)
    torch.save(state, out)


def pt_resume(source, out, kind):
    import torch
    state = torch.load(source)
    if kind.startswith("epoch-"):
        state["epoch"] = {"epoch-float": 2.5, "epoch-nan": float("nan"), "epoch-str": "2", "epoch-bool": True}[kind]
    elif kind.startswith("lr-"):
        for group in state["optimizer_state_dict"]["param_groups"]:
            group["lr"] = float("nan") if kind == "lr-nan" else "0.1"
    elif kind == "nan-weight":
        weight = state["model_state_dict"]["features.0.weight"]
        weight.view(-1)[3] = float("nan")
    torch.save(state, out)


def torchscript(out, kind):
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 5)
            self.fc = torch.nn.Linear(4 * 28 * 28, 10)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).flatten(1))

    class Half(Net):
        def __init__(self):
            super().__init__()
            self.fc = self.fc.half()

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).flatten(1).half()).float()

    class Sparse(Net):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(256, 10, sparse=True)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).flatten(1)) + self.embedding((x[:, 0, 0, :10] * 10).long().clamp(0, 255)).sum(1)

    class TrainMode(Net):
        def forward(self, x):
            y = self.fc(torch.relu(self.conv(x)).flatten(1))
            return y[:, :5] if self.training else y

    class Batch2(Net):
        def forward(self, x):
            y = self.fc(torch.relu(self.conv(x)).flatten(1))
            return y[:2] if x.size(0) > 2 else y

    class Complex(Net):
        def __init__(self):
            super().__init__()
            self.phase = torch.nn.Parameter(torch.zeros(3, dtype=torch.complex64))

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).flatten(1)) + self.phase.real.sum()

    classes = {"half": Half, "sparse": Sparse, "train-mode": TrainMode, "batch2": Batch2, "complex": Complex}
    torch.manual_seed(0)
    torch.jit.script(classes.get(kind, Net)()).save(out)
    if kind not in ("short", "inflate-bomb", "truncated"):
        return
    with open(out, "rb") as f:
        original = f.read()
    if kind == "truncated":
        with open(out, "wb") as f:
            f.write(original[: len(original) // 2])
        return
    source = zipfile.ZipFile(io.BytesIO(original))
    with zipfile.ZipFile(out, "w") as z:
        for info in source.infolist():
            data = source.read(info.filename)
            if kind == "short" and info.filename.endswith("/data/2"):  # the fc weight's record, cut to 64 bytes
                data = data[:64]
            if kind == "inflate-bomb" and info.filename.endswith(".py"):
                data += b" " * (300 << 20)
                info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def image(out, kind):
    from PIL import Image
    if kind == "png-bomb":
        Image.new("1", (16000, 16000)).save(out)
    elif kind == "png-header":
        import struct as st, zlib
        header = st.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0)
        chunk = b"IHDR" + header
        with open(out, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + st.pack(">I", len(header)) + chunk + st.pack(">I", zlib.crc32(chunk)))
            f.write(b"\0" * 1000)
    elif kind == "jpeg-large":
        Image.new("L", (12000, 12000), 128).save(out, quality=90)


def h5_bomb(out):
    with h5py.File(out, "w") as f:
        images = f.create_dataset("images", shape=(100000, 1, 512, 512), dtype="uint8", chunks=(1, 1, 512, 512),
                                  compression="gzip")
        images[0] = 1
        f["labels"] = np.zeros(100000, dtype=np.int64)


def h5_values(out, kind):
    images = np.random.default_rng(0).random((64, 1, 32, 32), dtype=np.float32)
    labels = np.arange(64, dtype=np.int64) % 2
    if kind == "nan":
        images[17, 0, 3, 3] = np.nan
    elif kind == "huge":
        images[:] = 3e38  # finite, but sums of them overflow
    elif kind == "label":
        labels[5] = 1000000
    elif kind == "clean":
        labels[0] = 9
    with h5py.File(out, "w") as f:
        f["images"] = images
        f["labels"] = labels


def parse(value):
    if value.startswith("'"):
        return value.strip("'")
    try:
        return np.int64(value)
    except ValueError:
        return np.float64(value)


def set_attr(ckpt, group, name, value):
    with h5py.File(os.path.join(ckpt, "index.h5"), "r+") as f:
        f[group].attrs[name] = parse(value)
    resign(ckpt)


def flip_attr(ckpt, group, name):
    with h5py.File(os.path.join(ckpt, "index.h5"), "r+") as f:
        value = f[group].attrs[name]
        flipped = np.frombuffer(value.tobytes(), dtype=np.uint8).copy()
        flipped[0] ^= 1
        f[group].attrs[name] = np.frombuffer(flipped.tobytes(), dtype=value.dtype)[0]


# The trainer's metadata checksum (checkpoint/index_checksum.h), computed the same way.
def encode(value):
    if isinstance(value, bytes) or isinstance(value, str):
        text = value.encode() if isinstance(value, str) else value
        return b"s" + struct.pack("<Q", len(text)) + text
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
        return b"l" + struct.pack("<Q", len(value)) + b"".join(encode(item) for item in value)
    if isinstance(value, (np.integer, int)):
        return b"i" + struct.pack("<q", int(value))
    return b"d" + struct.pack("<d", float(value))


def canonical(f, group, out, depth=0):
    assert depth <= 8, "nested too deep"
    out += b"G" + group.encode() + b"\0"
    for name in sorted(f[group].attrs.keys()):
        if group == "/" and name in ("metadata_checksum", "complete"):
            continue
        out += name.encode() + b"\0" + encode(f[group].attrs[name])
    for name in sorted(f[group].keys()):
        path = ("" if group == "/" else group) + "/" + name
        link = f[group].get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            out += b"L" + b"".join(part.encode() + b"\0" for part in (path, link.filename, link.path))
        else:
            canonical(f, path, out, depth + 1)
    return out


def resign(ckpt):
    with h5py.File(os.path.join(ckpt, "index.h5"), "r+") as f:
        h = 0xCBF29CE484222325
        for byte in bytes(canonical(f, "/", bytearray())):
            h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        f.attrs["metadata_checksum"] = f"fnv1a64:{h:016x}"


def cycle(ckpt):
    with h5py.File(os.path.join(ckpt, "index.h5"), "r+") as f:
        nest = f.create_group("model/nest")
        nest["loop"] = nest


def link_outside(ckpt, target):
    with h5py.File(os.path.join(ckpt, "index.h5"), "r+") as f:
        del f["model/features.0.bias"]
        f["model/features.0.bias"] = h5py.ExternalLink(target, "/model/features.0.bias")
    resign(ckpt)


def replace_tensor(ckpt, path, kind):
    with h5py.File(os.path.join(ckpt, "index.h5"), "r") as f:
        shard = f.get(path, getlink=True).filename
        shape = f[path].shape
    with h5py.File(os.path.join(ckpt, shard), "r+") as f:
        del f[path]
        if kind == "int64":
            f[path] = np.zeros(shape, dtype=np.int64)
        elif kind == "shape":
            f[path] = np.zeros((3, 3), dtype=np.float32)
        elif kind == "huge":  # announced, never written: a few bytes on disk
            f.create_dataset(path, shape=(1 << 20, 1 << 20), dtype="float32", chunks=(1, 1024))
    # The shard's recorded size must still match, or the reader stops there (another row).
    size = os.path.getsize(os.path.join(ckpt, shard))
    with h5py.File(os.path.join(ckpt, "index.h5"), "r+") as f:
        files = [x.decode() if isinstance(x, bytes) else x for x in f.attrs["shard_files"]]
        sizes = [x.decode() if isinstance(x, bytes) else x for x in f.attrs["shard_sizes"]]
        sizes[files.index(shard)] = str(size)
        f.attrs["shard_sizes"] = np.array(sizes, dtype=h5py.string_dtype())
    resign(ckpt)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "pt-expanded":
        fake_pt(args[0], [100000000], [0], 1)
    elif command == "pt-wrapping":
        fake_pt(args[0], [1 << 62, 8], [8, 1], 16)
    else:
        {"pt-with-junk": pt_with_junk, "h5-bomb": h5_bomb, "h5-values": h5_values, "set-attr": set_attr, "flip-attr": flip_attr,
         "cycle": cycle, "pt-resume": pt_resume, "torchscript": torchscript, "image": image, "link-outside": link_outside, "replace-tensor": replace_tensor}[command](*args)
