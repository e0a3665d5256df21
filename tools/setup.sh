#!/usr/bin/env bash
# First of the two README commands: installs the Debian packages photon-sim
# needs that are missing (apt-get, through sudo when not root), configures and
# builds into build/, and with --run starts experiments/quickstart.ini.
# --test adds what only the tests use (tools/test.sh passes it).
#   tools/setup.sh [--run] [--test] [--no-install] [CMAKE_ARGS...]   e.g. -DPHOTON_CUDA=OFF
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

run=0 install=1 test=0
cmake_args=()
for a in "$@"; do
    case $a in
        --run) run=1 ;;
        --no-install) install=0 ;;
        --test) test=1 ;;
        -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) cmake_args+=("$a") ;;
    esac
done

# Build tools and libraries, plus what the tests use (PyTorch fixtures, diff).
# clang-14 + libclang-rt-14-dev + libomp-14-dev: the libFuzzer targets
# (tests/fuzz, tools/fuzz.sh); python3-h5py: checkpoints written by h5py.
packages=(cmake make gcc pkg-config libevent-dev libinih-dev libhdf5-dev zlib1g-dev libssl-dev
          libzstd-dev zstd libonig-dev libutf8proc-dev
          libopenblas-dev libcjson-dev python3 python3-venv python3-torch python3-numpy python3-matplotlib
          python3-h5py diffutils gzip time clang-14 libclang-rt-14-dev libomp-14-dev
          iproute2 util-linux openssl)   # iproute2 (ip, tc) and chrt: tools/wan.sh, tcp_netns.sh; openssl: the TCP link tests
# Only for the tests: Slurm and MUNGE for it_slurm_local (a one-node cluster
# it starts and stops itself; about 3 MB to download, 13 MB installed).  On a
# systemd host these packages enable their services: munged starts with a
# fresh key, slurmd and slurmctld fail for want of /etc/slurm/slurm.conf.
if [ "$test" = 1 ]; then
    packages+=(slurmctld slurmd slurm-client munge)
fi

if [ "$install" = 1 ]; then
    if command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
        missing=()
        for p in "${packages[@]}"; do
            dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
        done
        if [ "${#missing[@]}" -gt 0 ]; then
            sudo=()
            if [ "$(id -u)" != 0 ]; then
                command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
                sudo=(sudo)
            fi
            echo "setup.sh: installing ${missing[*]}"
            "${sudo[@]}" apt-get update -q
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
        fi
    else
        echo "setup.sh: not a Debian-like system; install these yourself: ${packages[*]}" >&2
    fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${cmake_args[@]+"${cmake_args[@]}"}
cmake --build build -j "$jobs"
echo "setup.sh: built build/photon-sim"

if [ "$run" = 1 ]; then
    exec build/photon-sim experiments/quickstart.ini
fi
