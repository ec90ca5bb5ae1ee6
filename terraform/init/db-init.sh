#!/bin/bash
# The init step (terraform's db_init container, SQL Server's image for sqlcmd): loads the repository's
# db-init/staging and db-init/warehouse (the same scripts the tests load into the emulator) into the real
# servers, once: a database that already exists (a kept volume) is left as it is. Then creates or updates
# the `sluice` login with db_owner in both databases (init/sluice-login.sql).
# Environment: STAGING_HOST, WAREHOUSE_HOST, SQLCMDPASSWORD (sa's password; sqlcmd reads it from there),
# SLUICE_PASSWORD (read by sqlcmd as the scripting variable $(SLUICE_PASSWORD)).
set -euo pipefail
sqlcmd=/opt/mssql-tools18/bin/sqlcmd

load() { # host database directory
  local host=$1 database=$2 directory=$3 exists f
  exists=$("$sqlcmd" -S "$host" -U sa -C -b -h -1 -W \
    -Q "SET NOCOUNT ON; SELECT COUNT(*) FROM sys.databases WHERE name = N'$database'")
  if [ "$exists" = "0" ]; then
    for f in "$directory"/*.sql; do
      echo "db-init: $host: $(basename "$f")"
      "$sqlcmd" -S "$host" -U sa -C -b -i "$f"
    done
  else
    echo "db-init: $host: $database exists, left as it is"
  fi
  SLUICE_DATABASE="$database" "$sqlcmd" -S "$host" -U sa -C -b -i /init/sluice-login.sql
  echo "db-init: $host: login sluice ready in $database"
}

load "$STAGING_HOST" CreditStaging /db-init/staging
load "$WAREHOUSE_HOST" CreditWarehouse /db-init/warehouse
