#!/usr/bin/env bash
# Installs the Debian 12 packages kemu needs to build, test and build its
# sample drivers. Idempotent and quiet when everything is already present.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config make
  libunicorn-dev liblief-dev libcapstone-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libfmt-dev
  clang-14 lld-14 llvm-14 mingw-w64-x86-64-dev
  python3-jsonschema  # the SARIF schema test (tests/schemas/validate_sarif.py)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "kemu: installing missing packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "kemu: these packages are missing and you are not root: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
