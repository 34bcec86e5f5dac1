#!/bin/sh
# The platform's Secrets for Kubernetes, from the file `python -m onevisit_dev.secrets` writes
# (the same one docker-compose.yml reads), printed as manifests to apply; nothing is written to
# disk but a private temporary copy, removed on exit, and no value appears on a command line:
#   sh deploy/k8s/secrets.sh deploy/secrets.env | kubectl -n onevisit apply -f -
# - onevisit-secrets: every variable of the file, each read by name (secretKeyRef) by the
#   processes that use it, as compose gives them;
# - <database>-db-owner (kubernetes.io/basic-auth), one per service database: the role and
#   password CloudNativePG creates the database's owner with (bootstrap.initdb.secret), the same
#   password the service reads from onevisit-secrets.
set -eu
file=${1:-deploy/secrets.env}
[ -r "$file" ] || { echo "no $file: run python -m onevisit_dev.secrets first" >&2; exit 1; }
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# kubectl reads an env file's values literally: the quotes go (the generator's single ones, or
# double ones an operator typed); a value typed without quotes is taken as it is.
sed -n -e "s/^\(ONEVISIT_[A-Z0-9_]*\)='\(.*\)'\$/\1=\2/p; t" \
  -e 's/^\(ONEVISIT_[A-Z0-9_]*\)="\(.*\)"$/\1=\2/p; t' \
  -e 's/^\(ONEVISIT_[A-Z0-9_]*=.*\)$/\1/p' "$file" > "$work/secrets.env"
# Every variable of the file, none lost to a form the lines above do not read.
if [ "$(grep -c '^ONEVISIT_' "$file")" != "$(wc -l < "$work/secrets.env")" ]; then
  echo "$file: a line starting ONEVISIT_ is not NAME=value" >&2
  exit 1
fi
# What only the operator has is left empty by the generator: production refuses to start
# without it (compose refuses to start at all), development's SMS sink needs none.
sed -n 's/^\(ONEVISIT_[A-Z0-9_]*\)=$/\1/p' "$work/secrets.env" | while read -r empty; do
  echo "warning: $empty is empty in $file: fill it in for production" >&2
done
kubectl create secret generic onevisit-secrets --from-env-file="$work/secrets.env" \
  --dry-run=client -o yaml
sed -n 's/^ONEVISIT_\([A-Z0-9_]*\)_DATABASE_PASSWORD=\(.*\)$/\1 \2/p' "$work/secrets.env" |
  while read -r name password; do
    database=$(echo "$name" | tr 'A-Z' 'a-z')
    cluster=$(echo "$database" | tr '_' '-')-db
    echo ---
    printf '%s' "$password" | kubectl create secret generic "$cluster-owner" \
      --type=kubernetes.io/basic-auth --from-literal=username="$database" \
      --from-file=password=/dev/stdin --dry-run=client -o yaml
  done
