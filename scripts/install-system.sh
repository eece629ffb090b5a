#!/bin/sh
# Installs the Debian packages listed in scripts/system-packages.txt (as root;
# with sudo otherwise). README's set-up command and .ci/run both call this.
set -eu
list="$(dirname "$0")/system-packages.txt"
packages=$(sed -e 's/#.*//' "$list" | tr -s ' \n' ' ')
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086 # one word per package
$sudo apt-get install -y -qq $packages >/dev/null
echo "installed: $packages"
