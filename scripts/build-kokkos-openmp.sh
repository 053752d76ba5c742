#!/usr/bin/env bash
# Builds Kokkos with the OpenMP and Serial backends from Debian bookworm's own trilinos
# source package (Debian ships Kokkos with Serial only), and installs it into PREFIX (default: <repo>/install-kokkos-openmp).  Then configure
# ungulate against it:
#
#   ./scripts/build-kokkos-openmp.sh
#   cmake -S . -B build-omp -DKokkos_ROOT=$PWD/install-kokkos-openmp
#   OMP_NUM_THREADS=2 OMP_PROC_BIND=spread ./build-omp/apps/ungulate demo
#
# The compiler is CMake's choice (CXX=clang++ for a clang build, e.g. the ThreadSanitizer
# build of scripts/test.sh, which needs clang's libomp for TSan-visible OpenMP barriers).
# Needs apt (adds a deb-src entry for bookworm if there is none) and on
# 2 cores takes under a minute.  Idempotent: does nothing when PREFIX already holds an
# OpenMP Kokkos.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="${1:-$ROOT/install-kokkos-openmp}"
WORK="${UNGULATE_KOKKOS_SRC:-$ROOT/build-kokkos-src}"
JOBS="${JOBS:-2}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if grep -qs "KOKKOS_ENABLE_OPENMP" "$PREFIX/include/KokkosCore_config.h"; then
  echo "OpenMP Kokkos already installed in $PREFIX"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! grep -rqs "^Types:.*deb-src" /etc/apt/sources.list.d/ &&
   ! grep -qs "^deb-src" /etc/apt/sources.list; then
  $SUDO tee /etc/apt/sources.list.d/ungulate-deb-src.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends dpkg-dev xz-utils cmake make g++

mkdir -p "$WORK"
cd "$WORK"
if ! ls trilinos_*.orig.tar.* >/dev/null 2>&1; then
  apt-get source --download-only -q trilinos
fi
# Only the standalone CMake project we need, not the whole of Trilinos.
SRC="$WORK/src"
if [ ! -d "$SRC/packages/kokkos" ]; then
  rm -rf "$SRC" && mkdir -p "$SRC"
  tar -xf trilinos_*.orig.tar.* -C "$SRC" --strip-components=1 --wildcards '*/packages/kokkos/*'
fi

cmake -S "$SRC/packages/kokkos" -B "$WORK/kokkos-build-$(basename "$PREFIX")" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$PREFIX" -DBUILD_SHARED_LIBS=ON -DCMAKE_CXX_STANDARD=17 \
      -DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_OPENMP=ON
cmake --build "$WORK/kokkos-build-$(basename "$PREFIX")" -j"$JOBS"
cmake --install "$WORK/kokkos-build-$(basename "$PREFIX")"

echo "OpenMP+Serial Kokkos installed in $PREFIX"
