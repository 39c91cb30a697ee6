#!/usr/bin/env bash
# `make server`: the shared MLflow tracking server that jobs on every node report to.
#
#   PostgreSQL holds runs (BACKEND_STORE_URI) and users/permissions (AUTH_DATABASE_URI);
#   artifacts are proxied: clients upload and download them over HTTP, the server stores
#   them under ARTIFACTS_DESTINATION (a folder on the server, or s3://..., gs://...).
#   MLflow's basic-auth app refuses every request without a valid user (401); a user
#   reads every experiment (default_permission = READ) but edits or deletes only what
#   it created or was granted.
#
# Settings, from the environment or from the file named by MLFLOW_SERVER_ENV (KEY=VALUE
# lines, readable by you only). Secrets are never given on the command line or in a URI:
#   BACKEND_STORE_URI    postgresql://USER@HOST:PORT/DB          (required)
#   AUTH_DATABASE_URI    postgresql://USER@HOST:PORT/DB_AUTH     (required)
#   PGPASSWORD or PGPASSFILE   the PostgreSQL password (libpq reads them; or ~/.pgpass)
#   ARTIFACTS_DESTINATION      where artifacts are stored        (required)
#   MLFLOW_AUTH_ADMIN_USERNAME, MLFLOW_AUTH_ADMIN_PASSWORD  the admin, created on first start
#   MLFLOW_FLASK_SERVER_SECRET_KEY   signs sessions; a random one per start when unset
#   HOST (127.0.0.1), PORT (5000), ALLOWED_HOSTS (HOST:PORT; add the name other nodes use)
# Jobs then need MLFLOW_TRACKING_URI=http://HOST:PORT and their user's
# MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD in their environment.
set -euo pipefail

if [ -n "${MLFLOW_SERVER_ENV:-}" ]; then
    set -a
    # shellcheck disable=SC1090
    . "$MLFLOW_SERVER_ENV"
    set +a
fi
: "${BACKEND_STORE_URI:?set BACKEND_STORE_URI=postgresql://USER@HOST:PORT/DB (see $0)}"
: "${AUTH_DATABASE_URI:?set AUTH_DATABASE_URI=postgresql://USER@HOST:PORT/DB_AUTH (see $0)}"
: "${ARTIFACTS_DESTINATION:?set ARTIFACTS_DESTINATION to the folder that stores artifacts}"
: "${MLFLOW_AUTH_ADMIN_USERNAME:?set MLFLOW_AUTH_ADMIN_USERNAME (the admin user)}"
: "${MLFLOW_AUTH_ADMIN_PASSWORD:?set MLFLOW_AUTH_ADMIN_PASSWORD (the admin password)}"
for uri in "$BACKEND_STORE_URI" "$AUTH_DATABASE_URI"; do
    case $uri in
        postgresql://*:*@* | postgresql+*://*:*@*)
            echo "tracking_server.sh: a password in a database URI would show in 'ps';" \
                 "give it in PGPASSWORD or PGPASSFILE" >&2
            exit 2 ;;
        postgresql://* | postgresql+*://*) ;;
        *) echo "tracking_server.sh: $uri: expected a postgresql:// URI" >&2; exit 2 ;;
    esac
done
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
ALLOWED_HOSTS=${ALLOWED_HOSTS:-$HOST:$PORT,localhost:$PORT}
BIN=${BIN:-$(dirname "$(command -v python)")}

# The auth app reads its settings from an ini file: a private one per start, without secrets
# (the admin password stays in the environment).
folder=$(mktemp -d)
trap 'rm -rf "$folder"' EXIT
cat >"$folder/basic_auth.ini" <<EOF
[mlflow]
default_permission = READ
database_uri = $AUTH_DATABASE_URI
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
grant_default_workspace_access = false
# Checking a password costs a PBKDF2 hash (~0.1-0.3 s of CPU): without this cache a job's
# many requests keep the server busy. One worker, so no other worker's cache goes stale.
auth_cache_ttl_seconds = 60
EOF
export MLFLOW_AUTH_CONFIG_PATH=$folder/basic_auth.ini
MLFLOW_FLASK_SERVER_SECRET_KEY=${MLFLOW_FLASK_SERVER_SECRET_KEY:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}
export MLFLOW_FLASK_SERVER_SECRET_KEY
# No background job runner (2 processes, ~0.5 GB instead of 10 and ~2 GB); no telemetry.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false MLFLOW_DISABLE_TELEMETRY=true

case $ARTIFACTS_DESTINATION in *://*) ;; *) mkdir -p "$ARTIFACTS_DESTINATION" ;; esac
"$BIN/mlflow" server --app-name basic-auth \
    --backend-store-uri "$BACKEND_STORE_URI" \
    --artifacts-destination "$ARTIFACTS_DESTINATION" --serve-artifacts \
    --host "$HOST" --port "$PORT" --allowed-hosts "$ALLOWED_HOSTS" --workers 1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" || true; rm -rf "$folder"; }
trap cleanup EXIT
trap 'exit 143' INT TERM
wait "$server"
