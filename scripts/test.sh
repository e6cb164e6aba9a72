#!/usr/bin/env bash
# The whole test suite, Elasticsearch and browser tests included.
# Installs what the tests need that pip can't (Chromium from Debian), starts a local
# Elasticsearch (or reuses LABOURKB_ES_URL) and PostgreSQL (or reuses LABOURKB_TEST_DATABASE_URL),
# runs pytest, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
  else
    echo "chromium missing and not root: run 'sudo apt-get install chromium'" >&2
  fi
fi

started_es=0
if [ -z "${LABOURKB_ES_URL:-}" ]; then
  if ! bash scripts/elasticsearch.sh status >/dev/null 2>&1; then started_es=1; fi
  bash scripts/elasticsearch.sh start
  export LABOURKB_ES_URL="$(bash scripts/elasticsearch.sh url)"
fi
started_pg=0
cleanup() {
  if [ "$started_es" = 1 ]; then bash scripts/elasticsearch.sh stop || true; fi
  if [ "$started_pg" = 1 ]; then bash scripts/postgres.sh stop || true; fi
}
trap cleanup EXIT
if [ -z "${LABOURKB_TEST_DATABASE_URL:-}" ]; then
  if ! bash scripts/postgres.sh status >/dev/null 2>&1; then started_pg=1; fi
  bash scripts/postgres.sh start
  export LABOURKB_TEST_DATABASE_URL="$(bash scripts/postgres.sh url)"
fi

# lint and formatting first: a style slip fails fast, before the long suites
.venv/bin/ruff check .
.venv/bin/ruff format --check .

export LABOURKB_REQUIRE_ES=1 LABOURKB_REQUIRE_PG=1 LABOURKB_REQUIRE_BROWSER=1
mkdir -p test-artifacts
.venv/bin/python -m pytest "$@"
