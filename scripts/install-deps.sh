#!/usr/bin/env bash
# Installs the Debian packages charnn needs to build and test, and only those missing.
# Idempotent and silent when everything is already there. Uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libdnnl-dev ocl-icd-opencl-dev      # oneDNN; its CMake config asks for OpenCL headers
  libboost-program-options-dev libicu-dev catch2
  nlohmann-json3-dev                  # every JSON charnn writes or reads
  fortunes                            # the default corpus is assembled from it
  libopenmpi-dev openmpi-bin          # training on several ranks (docs/multi-machine.md)
)
extra=("$@")  # optional extra packages, e.g. chromium for the report screenshot

missing=()
for p in "${packages[@]}" "${extra[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
