#!/usr/bin/env python3
"""Test-only helpers that read checkpoints with h5py, as a user's script would.

  checkpoint_tools.py same A_DIR B_DIR          every tensor of two checkpoints bitwise equal
  checkpoint_tools.py weights-match CKPT H5     /model/* of a checkpoint equals --save-weights output
  checkpoint_tools.py flip CKPT TENSOR          flip one byte inside TENSOR's data in its shard
"""
import os
import sys

import h5py
import numpy as np


def tensors(directory):
    """Every dataset reachable from index.h5, following the external links into the shards."""
    index = h5py.File(os.path.join(directory, "index.h5"), "r")
    found = {}

    def walk(group, prefix):
        for name in group.keys():
            item = group[name]  # resolves external links
            if isinstance(item, h5py.Dataset):
                found[prefix + name] = item[()]
            else:
                walk(item, prefix + name + "/")

    walk(index, "/")
    return found


def same(a_dir, b_dir):
    a, b = tensors(a_dir), tensors(b_dir)
    if a.keys() != b.keys():
        sys.exit(f"different tensors: {sorted(a.keys() ^ b.keys())}")
    differing = [k for k in sorted(a) if not np.array_equal(a[k], b[k])]
    print(f"{len(a)} tensors compared bitwise, {len(differing)} differ {differing[:5]}")
    sys.exit(1 if differing else 0)


def weights_match(directory, weights):
    a = tensors(directory)
    w = h5py.File(weights, "r")["model"]
    names = sorted(w.keys())
    assert names and all(np.array_equal(a["/model/" + n], w[n][()]) for n in names), "weights differ"
    assert sorted(k[len("/model/"):] for k in a if k.startswith("/model/")) == names, "names differ"
    print(f"h5py read {len(names)} model tensors equal to the saved weights")


def flip(directory, tensor):
    index = h5py.File(os.path.join(directory, "index.h5"), "r")
    link = index.get(tensor, getlink=True)
    shard = os.path.join(directory, link.filename)
    with h5py.File(shard, "r") as f:
        info = f[tensor].id.get_chunk_info(0)
        offset, size = info.byte_offset, info.size
    with open(shard, "r+b") as f:
        f.seek(offset + size // 2)
        byte = f.read(1)
        f.seek(offset + size // 2)
        f.write(bytes([byte[0] ^ 0x5A]))
    print(f"flipped a byte of {tensor} in {link.filename} at offset {offset + size // 2}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"same": same, "weights-match": weights_match, "flip": flip}[command](*args)
