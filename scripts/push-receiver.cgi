#!/bin/bash
# A CGI receiver for a push source: hands each webhook delivery to `synctool ingest` and answers
# the sender 200 only once the delivery is on disk, so that the sender's retries are right.
#
# Install it as a CGI script of any web server (Apache's ScriptAlias, nginx with fcgiwrap,
# lighttpd's mod_cgi) and set, in the server's environment for it:
#   SYNCTOOL_PROJECT  the folder holding synctool.toml
#   SYNCTOOL_SYNC     the sync whose source is the push connection
#   SYNCTOOL          synctool's path (default: synctool on PATH)
# plus the connection's secret (e.g. SHOP_SECRET). The server passes each request header as an
# HTTP_* variable; every HTTP_X_* one goes to ingest as --header (X-Signature-256,
# X-Delivery-Id, X-HubSpot-Signature-v3, X-HubSpot-Request-Timestamp...).
#
# Answers: 200 spooled (or a delivery id seen before); 400 refused (bad signature, malformed
# body: the sender should not retry it as it is); 405 not a POST; 503 the state could not take it
# (the sender retries later).
set -u

respond() {  # status, text
  printf 'Status: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\n' "$1" "$2"
  exit 0
}

[ "${REQUEST_METHOD:-}" = POST ] || respond "405 Method Not Allowed" "POST a delivery"
project=${SYNCTOOL_PROJECT:-}
sync=${SYNCTOOL_SYNC:-}
[ -n "$project" ] && [ -n "$sync" ] || respond "500 Internal Server Error" "SYNCTOOL_PROJECT and SYNCTOOL_SYNC must be set"
[[ ${CONTENT_LENGTH:-} =~ ^[0-9]+$ ]] || respond "411 Length Required" "a body with Content-Length"

args=(ingest "$sync" --json)
for variable in $(compgen -e | grep '^HTTP_X_'); do
  # HTTP_X_SIGNATURE_256 -> x-signature-256 (header names ignore case)
  name=${variable#HTTP_}
  name=${name//_/-}
  args+=(--header "${name,,}: ${!variable}")
done
# HubSpot's v3 signature covers the URL the sender called.
scheme=http
[ "${HTTPS:-}" = on ] && scheme=https
[ -n "${REQUEST_SCHEME:-}" ] && scheme=$REQUEST_SCHEME
args+=(--method POST --url "$scheme://${HTTP_HOST:-localhost}${REQUEST_URI:-/}")

cd "$project" || respond "500 Internal Server Error" "cannot enter SYNCTOOL_PROJECT"
# The body is exactly CONTENT_LENGTH bytes of standard input.
output=$(head -c "$CONTENT_LENGTH" | "${SYNCTOOL:-synctool}" "${args[@]}" 2>&1)
code=$?
case $code in
  0) respond "200 OK" "$output" ;;
  2) respond "400 Bad Request" "$output" ;;
  *) respond "503 Service Unavailable" "$output" ;;
esac
