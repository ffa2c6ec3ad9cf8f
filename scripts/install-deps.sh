#!/usr/bin/env bash
# Installs the Debian packages Casty builds, runs and tests with. Safe to run again.
#   libcurl4-openssl-dev  libcurl for casty-ingest (the CCurl system library target)
#   icecast2 ffmpeg       the local test radio (scripts/test-radio.sh)
#   mpg123 streamripper   real players used by the integration tests
#   python3 curl          test helpers (the SHOUTcast-v1 test server, health checks)
#   chromium python3-websocket  the status page test drives headless Chromium over CDP
#   python3-prometheus-client   parses /metrics in the tests
#   iproute2 iptables     the fault harness (scripts/netfleet.sh): namespaces, veth, packet loss
#   python3-matplotlib    the plot of Benchmarks/bench.sh (docs/bench.png)
set -euo pipefail
packages=(libcurl4-openssl-dev pkg-config icecast2 ffmpeg mpg123 streamripper python3 curl procps openssl chromium python3-websocket python3-prometheus-client iproute2 iptables python3-matplotlib)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
