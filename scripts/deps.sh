#!/usr/bin/env bash
# Install the Debian packages eva.c builds and tests with (Debian 12). Safe to re-run; does
# nothing when everything is already there. Needs root (or sudo) only when something is missing.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config libcjson-dev zlib1g-dev libjpeg62-turbo-dev
      libpng-dev libwebp-dev ${EVA_EXTRA_PKGS:-})
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
