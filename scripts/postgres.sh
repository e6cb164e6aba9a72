#!/usr/bin/env bash
# Run a local PostgreSQL cluster for labourkb's tests and development.
#
#   scripts/postgres.sh start|stop|status|url
#
# The server binaries are Debian's (the highest version under /usr/lib/postgresql/*/bin;
# installed with apt-get when missing and run as root). Everything else is cached under
# $LABOURKB_PG_HOME (default /opt/labourkb-pg), one cluster directory per port:
#   cluster-$PORT/data               the data directory (initdb'd once, reused by every start)
#   cluster-$PORT/run                the Unix socket (not /var/run/postgresql)
#   cluster-$PORT/postgres.log       the server log
#   cluster-$PORT/labourkb.password  the password of role `labourkb` (mode 0600)
# The cluster listens on 127.0.0.1 only. Its superuser `postgres` logs in without a
# password over the Unix socket only; TCP logins need a password (scram-sha-256).
# Role `labourkb` owns database `labourkb` (so it may create schemas in it); `url` prints
#   postgresql://labourkb:<password>@127.0.0.1:<port>/labourkb
#
# Environment:
#   LABOURKB_PG_HOME   cache directory                     (/opt/labourkb-pg)
#   LABOURKB_PG_PORT   TCP port, bound to 127.0.0.1        (5440)
#   LABOURKB_PG_USER   system user running the server      (labourkb-pg; only when run as root)
#   LABOURKB_PG_WAIT   seconds `start` waits for pg_isready (60)
set -euo pipefail

BASE=${LABOURKB_PG_HOME:-/opt/labourkb-pg}
PORT=${LABOURKB_PG_PORT:-5440}
PG_USER=${LABOURKB_PG_USER:-labourkb-pg}
WAIT=${LABOURKB_PG_WAIT:-60}
CLUSTER_DIR="$BASE/cluster-$PORT"
DATA_DIR="$CLUSTER_DIR/data"
SOCKET_DIR="$CLUSTER_DIR/run"
LOG_FILE="$CLUSTER_DIR/postgres.log"
PASSWORD_FILE="$CLUSTER_DIR/labourkb.password"
PID_FILE="$DATA_DIR/postmaster.pid"  # written (and removed) by the postmaster itself
CLUSTER_NAME="labourkb-$PORT"        # in the process titles: "postgres: labourkb-5440: ..."
DB_NAME=labourkb
DB_ROLE=labourkb
SUPERUSER=postgres

log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

as_root() { [ "$(id -u)" = 0 ]; }

# Runs a command as the server user (postgres refuses to run as root), from the cluster
# directory and in a clean environment: the caller's PGHOST / PGOPTIONS … must not leak in.
run_as() {
  local -a user=()
  as_root && user=(runuser -u "$PG_USER" --)
  (cd "$CLUSTER_DIR" && "${user[@]}" env -i PATH=/usr/bin:/bin HOME="$CLUSTER_DIR" LANG=C.UTF-8 "$@")
}

# The bin directory of the highest PostgreSQL version installed (empty when none).
find_bin() {
  local d best=""
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && best=$d
  done
  echo "$best"
}

ensure_bin() {
  BIN=$(find_bin)
  [ -n "$BIN" ] && return 0
  as_root || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; install them (sudo apt-get install postgresql) or run this script as root"
  log "PostgreSQL not installed; installing Debian's postgresql package"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 \
    || die "apt-get install postgresql failed"
  BIN=$(find_bin)
  [ -n "$BIN" ] || die "postgresql installed but no initdb/pg_ctl/postgres under /usr/lib/postgresql/*/bin"
}

ensure_user() {
  id -u "$PG_USER" >/dev/null 2>&1 && return
  log "creating system user $PG_USER"
  useradd --system --no-create-home --home-dir "$BASE" --shell /usr/sbin/nologin "$PG_USER"
}

# The postmaster's pid when it is alive (not a zombie) and really a postgres process.
server_pid() {
  [ -s "$PID_FILE" ] || return 1
  local pid state
  pid=$(head -n 1 "$PID_FILE")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # A killed server can linger as a zombie until its (re)parent reaps it.
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)
  [ "$state" != Z ] && [ "$state" != X ] || return 1
  # After a kill -9 the pid may have been reused by something else.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "postgres" || return 1
  echo "$pid"
}

ready() {
  local isready="${BIN:-$(find_bin)}/pg_isready"
  [ -x "$isready" ] || isready=pg_isready
  "$isready" -q -h 127.0.0.1 -p "$PORT" -d "$DB_NAME" -t "${1:-3}" >/dev/null 2>&1
}

# Ours and answering.
running() { server_pid >/dev/null && ready "$@"; }

url() {
  [ -s "$PASSWORD_FILE" ] || die "no password in $PASSWORD_FILE: run '$0 start' first"
  echo "postgresql://$DB_ROLE:$(cat "$PASSWORD_FILE")@127.0.0.1:$PORT/$DB_NAME"
}

show_log() {
  if [ -f "$LOG_FILE" ]; then
    log "last lines of $LOG_FILE:"
    tail -n 40 "$LOG_FILE" >&2
  fi
  return 0
}

# A server killed with -9 leaves postmaster.pid and the socket lock behind, and its
# children (checkpointer, walwriter …) still attached to the shared memory for a moment;
# postgres refuses to start until they are gone.
clear_stale() {
  local i
  for ((i = 0; i < 30; i++)); do
    pgrep -f "^postgres: $CLUSTER_NAME: " >/dev/null 2>&1 || break
    [ "$i" = 0 ] && log "waiting for the processes of a killed server to exit"
    sleep 1
  done
  if [ -e "$PID_FILE" ]; then
    log "removing stale $PID_FILE"
    rm -f "$PID_FILE"
  fi
  rm -f "$SOCKET_DIR/.s.PGSQL.$PORT" "$SOCKET_DIR/.s.PGSQL.$PORT.lock"
}

# initdb into a temporary directory, moved into place only when complete: an interrupted
# first start leaves no half-made cluster behind.
init_cluster() {
  [ -s "$DATA_DIR/PG_VERSION" ] && return 0
  local tmp="$CLUSTER_DIR/data.tmp" pwfile="$CLUSTER_DIR/superuser.tmp"
  log "creating the cluster in $DATA_DIR ($("$BIN/postgres" --version))"
  rm -rf "$tmp" "$DATA_DIR"
  # The superuser gets a throw-away password: it logs in over the socket only (trust).
  (umask 077 && head -c 24 /dev/urandom | base64 >"$pwfile")
  as_root && chown "$PG_USER:" "$CLUSTER_DIR" "$pwfile"
  run_as "$BIN/initdb" -D "$tmp" -U "$SUPERUSER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >"$CLUSTER_DIR/initdb.log" 2>&1 \
    || { rm -f "$pwfile"; tail -n 30 "$CLUSTER_DIR/initdb.log" >&2; die "initdb failed"; }
  rm -f "$pwfile"
  mv "$tmp" "$DATA_DIR"
}

psql_super() {
  run_as "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -U "$SUPERUSER" -d postgres "$@"
}

# Role and database `labourkb` (idempotent; the role's password is set from the file each start).
bootstrap() {
  if [ ! -s "$PASSWORD_FILE" ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$PASSWORD_FILE.tmp")
    mv "$PASSWORD_FILE.tmp" "$PASSWORD_FILE"
  fi
  chmod 600 "$PASSWORD_FILE"
  as_root && chown "$PG_USER:" "$PASSWORD_FILE"
  psql_super -v role="$DB_ROLE" -v pw="$(cat "$PASSWORD_FILE")" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') AS missing \gset
\if :missing
  CREATE ROLE :"role" LOGIN;
\endif
ALTER ROLE :"role" LOGIN PASSWORD :'pw';
SQL
  psql_super -v role="$DB_ROLE" -v db="$DB_NAME" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') AS missing \gset
\if :missing
  CREATE DATABASE :"db" OWNER :"role" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\endif
SQL
}

cmd_start() {
  if [ -d "$DATA_DIR" ] && running; then url; return 0; fi
  ensure_bin
  mkdir -p "$BASE"
  # Concurrent starts (parallel test sessions) wait for each other.
  exec 9>"$BASE/.lock-$PORT"
  flock -w 600 9 || die "another start is still running"
  if [ -d "$DATA_DIR" ] && running; then url; return 0; fi
  if ready 1; then
    die "something not started by this script answers on 127.0.0.1:$PORT; choose another LABOURKB_PG_PORT"
  fi
  local t0 pid
  t0=$(date +%s)
  mkdir -p "$CLUSTER_DIR" "$SOCKET_DIR"
  if as_root; then
    ensure_user
    chmod a+rx "$BASE"
    chown "$PG_USER:" "$CLUSTER_DIR" "$SOCKET_DIR"
  fi
  chmod 700 "$CLUSTER_DIR"
  init_cluster
  if pid=$(server_pid); then
    # Started earlier but not answering yet (or a start that timed out): wait for it.
    log "server process $pid exists; waiting for it"
  else
    clear_stale
    as_root && chown -R "$PG_USER:" "$CLUSTER_DIR"
    # Settings on the command line, so every start applies the current ones.
    # pg_ctl -W returns at once; the loop below waits (and reads the log on failure).
    run_as "$BIN/pg_ctl" start -W -D "$DATA_DIR" -l "$LOG_FILE" -o "-c port=$PORT \
-c listen_addresses=127.0.0.1 -c unix_socket_directories='$SOCKET_DIR' \
-c cluster_name=$CLUSTER_NAME -c max_connections=200" </dev/null >/dev/null 9>&- \
      || { show_log; die "pg_ctl start failed"; }
  fi
  local i
  for ((i = 0; i < WAIT; i++)); do
    if ready 1; then
      server_pid >/dev/null || { show_log; die "a server answers on port $PORT but it is not the one in $DATA_DIR"; }
      bootstrap || { show_log; die "creating role/database $DB_NAME failed"; }
      log "running pid $(server_pid) (ready in $(($(date +%s) - t0)) s)"
      url
      return 0
    fi
    # Give the postmaster a moment to write its pid file before declaring it dead.
    if [ "$i" -ge 2 ] && ! server_pid >/dev/null; then show_log; die "PostgreSQL exited during startup"; fi
    sleep 1
  done
  show_log
  die "PostgreSQL did not answer within $WAIT s"
}

cmd_stop() {
  local pid
  if ! pid=$(server_pid); then
    ready && log "a server answers on 127.0.0.1:$PORT but was not started by this script; left running"
    return 0
  fi
  BIN=$(find_bin)
  if ! run_as "$BIN/pg_ctl" stop -D "$DATA_DIR" -m fast -t 30 >/dev/null; then
    log "pid $pid did not stop in 30 s; killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  log "stopped pid $pid"
}

cmd_status() {
  local pid
  if pid=$(server_pid); then
    if ready; then echo "up 127.0.0.1:$PORT (pid $pid)"; return 0; fi
    echo "starting 127.0.0.1:$PORT (pid $pid)"
    return 3
  fi
  echo "down 127.0.0.1:$PORT"
  return 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) url ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
