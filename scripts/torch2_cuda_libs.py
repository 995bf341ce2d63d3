#!/usr/bin/env python3
"""Which of the CUDA libraries a torch wheel needs must come from PyPI, and which the machine has.

    torch2_cuda_libs.py TORCH_DIST_INFO [CUDA_ROOT]

Reads the wheel's pins (METADATA: cuda-toolkit[...]==X, nvidia-*==Y) and the machine's CUDA
toolkit, cuDNN and NCCL under CUDA_ROOT (default /usr/local/cuda). A library the machine has,
with the wheel's CUDA major and at least the version the wheel pins, is used from the machine; any
other is installed from PyPI. Prints one pip requirement per line:
  "nvidia-...==V"            install without dependencies
  "cuda-toolkit[a,b]==V"     install with dependencies (the extras' packages)
A process holds one libnccl.so.2: trainer links the NCCL this chooses (cmake/cuda_nccl.cmake).
"""
import os
import re
import subprocess
import sys


def header_version(path, names):
    try:
        text = open(path).read()
    except OSError:
        return None
    parts = []
    for name in names:
        match = re.search(rf"#define\s+{name}\s+(\d+)", text)
        if not match:
            return None
        parts.append(int(match.group(1)))
    return tuple(parts)


def has_library(soname_prefix):
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    return any(line.split()[0].startswith(soname_prefix) for line in cache.splitlines()[1:] if line.strip())


def version_tuple(text):
    return tuple(int(x) for x in re.findall(r"\d+", text))


def main(dist_info, cuda_root="/usr/local/cuda"):
    pins = [line.split(":", 1)[1].split(";")[0].strip()
            for line in open(os.path.join(dist_info, "METADATA"))
            if line.startswith("Requires-Dist:") and "platform_system" in line and "extra ==" not in line]
    include = os.path.join(cuda_root, "include")
    cuda = header_version(os.path.join(include, "cuda.h"), ["CUDA_VERSION"])
    machine = {
        "cuda": (cuda[0] // 1000, cuda[0] % 1000 // 10) if cuda else None,
        "nvidia-cudnn": header_version(os.path.join(include, "cudnn_version.h"),
                                       ["CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL"]),
        "nvidia-nccl": header_version(os.path.join(include, "nccl.h"), ["NCCL_MAJOR", "NCCL_MINOR", "NCCL_PATCH"]),
    }
    # The soname of each extra of cuda-toolkit, to tell whether the machine has it at all.
    sonames = {"cublas": "libcublas.so", "cudart": "libcudart.so", "cufft": "libcufft.so", "cufile": "libcufile.so.0",
               "cupti": "libcupti.so", "curand": "libcurand.so", "cusolver": "libcusolver.so",
               "cusparse": "libcusparse.so", "nvjitlink": "libnvJitLink.so", "nvrtc": "libnvrtc.so",
               "nvtx": "libnvtx3interop.so.1"}
    for pin in pins:
        exact = re.fullmatch(r"([\w.-]+(?:\[[\w,]+\])?)\s*==\s*([\w.]+)", pin)
        if not exact:
            continue  # cuda-bindings, triton: Python-only (torch.compile), not needed to load or save
        name, version = exact.groups()
        wanted = version_tuple(version)
        if name.startswith("cuda-toolkit["):
            extras = name[len("cuda-toolkit["):-1].split(",")
            same_release = machine["cuda"] is not None and machine["cuda"][0] == wanted[0] and machine["cuda"] >= wanted[:2]
            missing = [e for e in extras if not same_release or not has_library(sonames[e])]
            if missing:
                print(f"cuda-toolkit[{','.join(missing)}]=={version}")
            continue
        if name.startswith("nvidia-"):
            family = re.sub(r"-cu\d+$", "", name)
            have = machine.get(family)
            same_cuda = machine["cuda"] is not None and name.endswith(f"-cu{machine['cuda'][0]}")
            if have is None or not same_cuda or have < wanted[:len(have)]:
                print(f"{name}=={version}")


if __name__ == "__main__":
    main(*sys.argv[1:])
