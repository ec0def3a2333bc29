#!/usr/bin/env bash
# Brings this machine up to date for facegate, idempotently: Debian packages, npm dependencies
# (with the environment the native modules need), and the ONNX model set. A second run only checks.
#   deploy/setup.sh          what the daemon and CLI need
#   deploy/setup.sh --test   also what the test suite needs (mosquitto, ffmpeg, socat, chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

# --- 64-bit system, Node.js 20+ ----------------------------------------------------------
# shellcheck source=deploy/require.sh
source deploy/require.sh
require_64bit || exit 1
require_node20 "$(command -v node || true)" || { echo "setup: stopped (see above)" >&2; exit 1; }

# --- Debian packages ------------------------------------------------------------------------
pkgs=(build-essential python3 pkg-config libopencv-dev libsystemd-dev libgpiod-dev)
(( want_test )) && pkgs+=(mosquitto ffmpeg socat chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} > 0 )); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing Debian packages. Run this, then run the command again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

# --- npm dependencies -----------------------------------------------------------------------
# OpenCV binding: build against Debian's OpenCV instead of cloning OpenCV from GitHub.
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
# onnxruntime-node: skip the CUDA/TensorRT download (CPU binaries are bundled; offline-safe).
export ONNXRUNTIME_NODE_INSTALL=skip
export ORT_DISABLE_TELEMETRY=1
# Native addons need Node's headers; use the installed ones rather than downloading them.
if [[ -z "${npm_config_nodedir:-}" ]]; then
  node_prefix=$(dirname "$(dirname "$(command -v node)")")
  for d in "$node_prefix" /usr /usr/local; do
    if [[ -f "$d/include/node/node.h" ]]; then export npm_config_nodedir="$d"; break; fi
  done
fi
stamp=node_modules/.facegate-install.sha256
if [[ ! -f $stamp ]] || ! sha256sum --status -c "$stamp" 2>/dev/null; then
  echo "setup: npm ci (first run builds OpenCV and SQLite bindings: several minutes)"
  npm ci --no-audit --no-fund
  # The lock file alone: npm ci refuses one that disagrees with package.json's dependencies, and
  # an edited script or description must not cost a rebuild of the native modules.
  sha256sum package-lock.json > "$stamp"
fi

# --- models ---------------------------------------------------------------------------------
node bin/facegate.js models build
