# shellcheck shell=bash
# Checks shared by deploy/setup.sh and deploy/install.sh (sourced, not run): a 64-bit system and
# Node.js 20 or newer, each with the exact way out when it is missing.

# onnxruntime-node ships native binaries for 64-bit Linux only (linux/x64 and linux/arm64): on
# 32-bit Raspberry Pi OS (armhf) `npm ci` would install a package that cannot load.
require_64bit() {
  local machine dpkg_arch=""
  machine=$(uname -m)
  command -v dpkg >/dev/null && dpkg_arch=$(dpkg --print-architecture)
  case "$machine/$dpkg_arch" in
    aarch64/arm64 | aarch64/ | x86_64/amd64 | x86_64/) return 0 ;;
  esac
  {
    echo "facegate needs a 64-bit system: this one is $machine${dpkg_arch:+ with Debian architecture $dpkg_arch}."
    echo "  ONNX Runtime (onnxruntime-node) has no build for 32-bit ARM (armhf/armv7l)."
    if [[ $machine == aarch64 ]]; then
      echo "  The kernel is 64-bit but the system is $dpkg_arch: install the 64-bit Raspberry Pi OS"
    else
      echo "  On a Raspberry Pi 3, 4, 5 or Zero 2 W install the 64-bit Raspberry Pi OS"
    fi
    echo "  (Raspberry Pi Imager: 'Raspberry Pi OS (64-bit)', Debian 12 bookworm arm64)."
  } >&2
  return 1
}

# How to get Node.js 20+ on Debian 12 / Raspberry Pi OS, whose own nodejs package is 18.
node_install_help() {
  cat >&2 <<'HELP'
  Debian 12 and Raspberry Pi OS bookworm ship Node.js 18, which is too old. Install Node.js 22 from
  NodeSource's Debian repository (it installs /usr/bin/node with the headers native modules need):
    sudo apt-get install -y ca-certificates curl gnupg
    curl -fsSL https://deb.nodesource.com/setup_22.x -o /tmp/nodesource_setup.sh
    less /tmp/nodesource_setup.sh          # read what it does first
    sudo bash /tmp/nodesource_setup.sh
    sudo apt-get install -y nodejs
  or unpack the official tarball (https://nodejs.org/en/download, "Linux ARM64" on a Pi) into
  /usr/local and link it: sudo ln -s /usr/local/bin/node /usr/bin/node
  If Debian's nodejs 18 is installed, remove it first: sudo apt-get remove nodejs
HELP
}

# require_node20 [PATH]: PATH (default: node on $PATH) is Node.js 20 or newer.
require_node20() {
  local node=${1:-$(command -v node || true)} major
  if [[ -z $node || ! -x $node ]]; then
    echo "Node.js 20 or newer is required and ${1:-node} was not found." >&2
    node_install_help
    return 1
  fi
  major=$("$node" -p 'process.versions.node.split(".")[0]')
  if (( major < 20 )); then
    echo "Node.js $("$node" --version) at $node is too old: facegate needs 20 or newer." >&2
    node_install_help
    return 1
  fi
}
