# Local certificate authority for the embedded default (source it).
# shellcheck shell=bash

# ensure_local_pki DIR: a CA (ca.crt/ca.key) and a server certificate for 127.0.0.1 and
# localhost (server.crt/server.key), created once and kept. Keys are mode 0600.
ensure_local_pki() {
  local dir="$1"
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [ ! -f "$dir/ca.crt" ] || [ ! -f "$dir/ca.key" ]; then
    log "creating a local CA in $dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=Tessera local CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
    rm -f "$dir/server.crt"
  fi
  if [ ! -f "$dir/server.crt" ] || [ ! -f "$dir/server.key" ]; then
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=tessera-server" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
      -days 825 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
    rm -f "$dir/server.csr" "$dir/server.ext"
  fi
  chmod 600 "$dir"/*.key
}
