#!/usr/bin/env bash
# Installs ungulate's build and test dependencies from Debian bookworm's packages.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  ca-certificates cmake make g++ gcc gfortran pkg-config python3 \
  libtrilinos-kokkos-dev \
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev \
  libgtest-dev libgmock-dev \
  clang libclang-rt-14-dev libomp-14-dev
