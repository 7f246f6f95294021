#!/usr/bin/env bash
# A throwaway PostgreSQL for tests: `scripts/pg.sh start DIR` initializes a
# cluster in DIR (created; owned by the `postgres` user when run as root,
# since PostgreSQL refuses to run as root), starts it on a free loopback
# port and prints its base URL (postgres://postgres@127.0.0.1:PORT);
# `scripts/pg.sh stop DIR` stops it; `crash DIR` stops it the way a
# crash would (`-m immediate`: no shutdown checkpoint, recovery on the next
# start) and `again DIR` starts it once more on the same port. (DIR's parent must be open to others: the
# `postgres` user has to reach DIR.) Installs the Debian package
# `postgresql` first if no PostgreSQL binaries are found.
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?a directory}

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] && echo "$d"
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# fsync off unless PG_FSYNC=on (benchmarks set it): a test cluster need not
# survive a power cut (a crash of PostgreSQL itself, `crash`, loses nothing:
# the OS still has its writes).
start_cluster() {
  as_pg "$1/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $2 -k $dir -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off} -c max_connections=200" start >/dev/null
}

case "$cmd" in
  start)
    if [ -z "$(bindir)" ]; then
      sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
      $sudo apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    fi
    bin=$(bindir) || { echo "no PostgreSQL binaries found" >&2; exit 1; }
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
    echo "$port" > "$dir/port"
    start_cluster "$bin" "$port"
    echo "postgres://postgres@127.0.0.1:$port"
    ;;
  again)
    start_cluster "$(bindir)" "$(cat "$dir/port")"
    ;;
  crash)
    as_pg "$(bindir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  stop)
    bin=$(bindir)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
  *)
    echo "usage: scripts/pg.sh start|stop|crash|again DIR" >&2
    exit 2
    ;;
esac
