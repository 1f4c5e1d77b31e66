#!/usr/bin/env bash
# Generate the message packages under test/interfaces/ (tf2_msgs) into a virtual environment with
# the pip-installed ROS 2 build tools (requirements/interfaces.txt): cmake + make install into the
# venv's prefix, whose lib/ the ROS wheels already put on LD_LIBRARY_PATH. Only for the pip test
# environment; a robot's ROS install has the real packages.
#
# usage: scripts/build_interfaces.sh VENV
set -euo pipefail
venv=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

# The wheels' CMake targets name include folders of the machine that built them; cmake refuses
# targets whose folders are missing, and empty ones are enough.
for dir in $(grep -rhoE '/opt/python/[^";]*' "$venv/share" 2>/dev/null | sort -u); do
  if ! mkdir -p "$dir" 2>/dev/null; then
    echo "build_interfaces: cannot create $dir (needed by the ROS wheels' CMake files);" \
         "create it once with: sudo mkdir -p $dir" >&2
    exit 1
  fi
done

export PATH="$venv/bin:$PATH" CMAKE_PREFIX_PATH="$venv" AMENT_PREFIX_PATH="$venv"
for pkg in "$here"/test/interfaces/*/; do
  name=$(basename "$pkg")
  mkdir -p "$build/$name"
  if ! (cd "$build/$name" &&
        cmake "$pkg" -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX="$venv" \
          -DPython3_EXECUTABLE="$venv/bin/python" > cmake.log 2>&1 &&
        make -j2 install > make.log 2>&1); then
    echo "build_interfaces: building $name failed; the log follows" >&2
    cat "$build/$name"/*.log >&2
    exit 1
  fi
  echo "build_interfaces: $name installed into $venv"
done
