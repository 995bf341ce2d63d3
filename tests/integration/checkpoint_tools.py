#!/usr/bin/env python3
"""Test-only helpers that read checkpoints with h5py, as a user's script would.

  checkpoint_tools.py same A_DIR B_DIR          every tensor of two checkpoints bitwise equal
  checkpoint_tools.py close A_DIR B_DIR TOL     every tensor equal within TOL (largest |a - b|)
  checkpoint_tools.py same-all A_DIR B_DIR [KEY...]
                                                and every attribute of every group and tensor too,
                                                but `created` (the time) and the KEYs of `config`
  checkpoint_tools.py weights-match CKPT H5     /model/* of a checkpoint equals --save-weights output
  checkpoint_tools.py flip CKPT TENSOR          flip one byte inside TENSOR's data in its shard
"""
import json
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


def close(a_dir, b_dir, tolerance):
    a, b = tensors(a_dir), tensors(b_dir)
    if a.keys() != b.keys():
        sys.exit(f"different tensors: {sorted(a.keys() ^ b.keys())}")
    worst, where = 0.0, ""
    for k in sorted(a):
        if a[k].shape != b[k].shape:
            sys.exit(f"{k}: shape {a[k].shape} against {b[k].shape}")
        difference = float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) if a[k].size else 0.0
        if difference > worst:
            worst, where = difference, k
    print(f"{len(a)} tensors compared, largest difference {worst:.3g} in {where or '-'} (tolerance {float(tolerance):g})")
    sys.exit(0 if worst <= float(tolerance) else 1)


def attributes(directory):
    """Every attribute of index.h5's tree, by "path@name"; the shards' datasets through the links."""
    index = h5py.File(os.path.join(directory, "index.h5"), "r")
    found = {}

    def walk(item, path):
        for name, value in item.attrs.items():
            found[f"{path}@{name}"] = value
        if isinstance(item, h5py.Group):
            for name in item.keys():
                walk(item[name], path.rstrip("/") + "/" + name)

    walk(index, "/")
    return found


def same_all(a_dir, b_dir, *config_keys):
    """Tensors bitwise (as same) and every attribute equal; `created` and `config`'s KEYs differ by design,
    and so does the metadata checksum over them."""
    a, b = attributes(a_dir), attributes(b_dir)
    for attrs in (a, b):
        for key in [k for k in attrs if k.endswith("@created") or k.endswith("@metadata_checksum")]:
            del attrs[key]
        for key in [k for k in attrs if k.endswith("@config")]:
            config = json.loads(attrs[key])
            for option in config_keys:
                config.pop(option, None)
            attrs[key] = json.dumps(config, sort_keys=True)
    if a.keys() != b.keys():
        sys.exit(f"different attributes: {sorted(a.keys() ^ b.keys())}")
    differing = [k for k in sorted(a) if not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))]
    if differing:
        sys.exit(f"{len(a)} attributes compared, {len(differing)} differ: " +
                 ", ".join(f"{k} ({a[k]!r} against {b[k]!r})" for k in differing[:5]))
    print(f"{len(a)} attributes equal")
    same(a_dir, b_dir)


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
    {"same": same, "close": close, "same-all": same_all, "weights-match": weights_match, "flip": flip}[command](*args)
