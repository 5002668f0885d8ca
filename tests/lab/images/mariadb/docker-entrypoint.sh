#!/bin/sh
# Lab stand-in for the entrypoint of the official mariadb image, for Debian's mariadb-server package.
# The same interface the collection uses in production (mariadb:11): on an empty data directory it creates the
# system tables, sets the root password (MARIADB_ROOT_PASSWORD), creates MARIADB_DATABASE and the user
# MARIADB_USER@'%' (MARIADB_PASSWORD) with all privileges on it, then starts the server on 0.0.0.0:3306.
# The MYSQL_* names are accepted too, as by the official image. Other arguments are run as a command.
set -eu

datadir=/var/lib/mysql
rundir=/run/mysqld

# The value of a variable or of its MYSQL_ alias.
value() {
  case "$1" in
    ROOT_PASSWORD) printf '%s' "${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}" ;;
    DATABASE) printf '%s' "${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}" ;;
    USER) printf '%s' "${MARIADB_USER:-${MYSQL_USER:-}}" ;;
    PASSWORD) printf '%s' "${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}" ;;
  esac
}

# A string literal for SQL: backslashes and single quotes escaped.
sql_string() {
  printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"
}

# An identifier for SQL: backquoted, backquotes doubled.
sql_identifier() {
  # shellcheck disable=SC2016  # the backquotes are SQL's, not the shell's
  printf '`%s`' "$(printf '%s' "$1" | sed -e 's/`/``/g')"
}

initialise() {
  root_password=$(value ROOT_PASSWORD)
  if [ -z "$root_password" ]; then
    echo 'mariadb (lab): MARIADB_ROOT_PASSWORD is required to initialise an empty data directory' >&2
    exit 1
  fi
  echo 'mariadb (lab): initialising the data directory'
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db --auth-root-authentication-method=normal \
    >/dev/null
  mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$rundir/init.sock" &
  pid=$!
  tries=0
  until mariadb-admin --socket="$rundir/init.sock" ping >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 60 ]; then
      echo 'mariadb (lab): the initialisation server did not start' >&2
      exit 1
    fi
    sleep 1
  done
  database=$(value DATABASE)
  user=$(value USER)
  password=$(value PASSWORD)
  {
    # mariadb-install-db also makes password-less root accounts for this host name and the loopback addresses.
    for host in 127.0.0.1 ::1 "$(hostname)"; do
      echo "DROP USER IF EXISTS 'root'@$(sql_string "$host");"
    done
    echo "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY $(sql_string "$root_password");"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$root_password");"
    if [ -n "$database" ]; then
      echo "CREATE DATABASE IF NOT EXISTS $(sql_identifier "$database");"
    fi
    if [ -n "$user" ] && [ -n "$password" ]; then
      echo "CREATE USER IF NOT EXISTS $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$password");"
      if [ -n "$database" ]; then
        echo "GRANT ALL ON $(sql_identifier "$database").* TO $(sql_string "$user")@'%';"
      fi
    fi
    echo 'FLUSH PRIVILEGES;'
  } | mariadb --socket="$rundir/init.sock" -u root
  mariadb-admin --socket="$rundir/init.sock" -u root --password="$root_password" shutdown
  wait "$pid" || true
  echo 'mariadb (lab): initialised'
}

if [ "$#" -eq 0 ] || [ "$1" = mariadbd ]; then
  [ "$#" -gt 0 ] && shift
  mkdir -p "$datadir" "$rundir"
  chown -R mysql:mysql "$datadir" "$rundir"
  if [ ! -d "$datadir/mysql" ]; then
    initialise
  fi
  exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 "$@"
fi
exec "$@"
