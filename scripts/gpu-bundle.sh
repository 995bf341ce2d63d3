#!/bin/bash
# Downloads what scripts/gpu-check.sh needs on a GPU machine that has CUDA, a Python with PyTorch
# 2.x (CUDA), CMake and a compiler, but neither Debian's development packages nor a network: the
# Debian 12 .deb files of MPI, HDF5, Boost.Program_options, nlohmann-json, libjpeg-turbo, libspng,
# OpenSSL's and zlib's headers and GoogleTest (for the GPU test tier), with the libraries they
# depend on. Left out: the toolchain (compilers, binutils), Perl and Python, and what every Debian
# system has (Priority required or important). Nothing is installed; gpu-check.sh unpacks the
# files into a private prefix, never into /.
#
#   scripts/gpu-bundle.sh [OUT_DIR]    (default: gpu-bundle/ in the checkout; about 35 MB)
#
# Run it on a Debian 12 machine with the package registry (apt-get download needs no root). Copy
# OUT_DIR to the GPU machine with the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu-bundle}"
limit_mb=60
roots=(libopenmpi-dev openmpi-bin libhdf5-dev libboost-program-options-dev nlohmann-json3-dev
       libturbojpeg0-dev libspng-dev libssl-dev zlib1g-dev libgtest-dev pkgconf)

# The dependency closure: Depends and Pre-Depends, the first of each set of alternatives, virtual
# packages left to the real ones that are named beside them.
closure=$(python3 - "${roots[@]}" <<'PY'
import re, subprocess, sys
roots = sys.argv[1:]
leave_out = re.compile(
    r"^(gcc|g\+\+|cpp|gfortran|flang|clang|llvm|binutils|libbinutils|libctf|libsframe|libgprofng|perl|libperl|"
    r"perl-modules|python3|libpython|libc6|libc-dev|libc6-dev|linux-libc-dev|libstdc\+\+|libgcc|libllvm|libclang|"
    r"libflang|libmlir|libz3|libgfortran|libquadmath|libasan|libubsan|libtsan|liblsan|libhwasan|libitm|libatomic|"
    r"libgomp|libcc1|libisl|libmpc|libmpfr|libgmp|libjansson|rpcsvc-proto|libcrypt-dev|libnsl-dev|libtirpc-dev|"
    r"openssh|libjs-|libfido2|libcbor|libedit|debconf|dpkg|ucf|sensible-utils|x11-common)")
def show(package, field):
    text = subprocess.run(["apt-cache", "show", "--no-all-versions", package], capture_output=True, text=True).stdout
    match = re.search(rf"^{field}: (\S+)", text, re.M)
    return match.group(1) if match else ""
def depends(package):
    lines = subprocess.run(["apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-conflicts",
                            "--no-breaks", "--no-replaces", "--no-enhances", package],
                           capture_output=True, text=True, check=True).stdout.splitlines()[1:]
    found, alternative = [], False
    for line in lines:
        match = re.match(r"\s*(\|?)(?:Pre)?Depends: (\S+)", line)
        if not match:
            continue
        if not alternative and not match.group(2).startswith("<"):
            found.append(match.group(2))
        alternative = match.group(1) == "|"
    return found
seen, queue = set(), list(roots)
while queue:
    package = queue.pop(0)
    if package in seen:
        continue
    seen.add(package)
    if package not in roots and (leave_out.match(package) or show(package, "Priority") in ("required", "important")):
        continue
    print(package)
    queue.extend(depends(package))
PY
)
rm -rf "$out.tmp"
mkdir -p "$out.tmp/debs"
(cd "$out.tmp/debs" && apt-get download -q -o APT::Sandbox::User=root $closure >/dev/null)
for deb in "$out.tmp"/debs/*.deb; do
  dpkg-deb -f "$deb" Package Version | paste -sd' '
done | sort > "$out.tmp/MANIFEST"
size_mb=$(du -sm "$out.tmp/debs" | cut -f1)
if [ "$size_mb" -gt "$limit_mb" ]; then
  echo "gpu-bundle: $size_mb MB, over the $limit_mb MB limit" >&2
  exit 1
fi
rm -rf "$out"
mv "$out.tmp" "$out"
echo "gpu-bundle: $(wc -l < "$out/MANIFEST") packages, $size_mb MB in $out/ (list: $out/MANIFEST)"
