#!/usr/bin/env bash
# Docker for CI: Debian's engine, a running dockerd and the locally built compose images.
# No registry is reachable, so the images are built here (stackeval.stack.images: debootstrap ->
# docker import -> Dockerfiles with wheels from PyPI). Idempotent: an installed engine, a running
# daemon and up-to-date images are kept. Needs root and the venv (make setup).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log=${DOCKERD_LOG:-/tmp/dockerd.log}
  nohup /usr/sbin/dockerd >"$log" 2>&1 &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "dockerd did not come up in 60 s; its log ($log):" >&2
    tail -20 "$log" >&2
    exit 1
  fi
fi

make -s setup
.venv/bin/python -m stackeval.stack.images
