#!/usr/bin/env bash
# Evaluates the NixOS and home-manager modules (tests/nix/module-eval.nix)
# with a real nixpkgs `lib`, taken from the directory in NIXPKGS_LIB: a
# nixpkgs checkout, a copy of nix-community/nixpkgs.lib, or their lib/ folder.
# No package registry carries nixpkgs' lib, so where NIXPKGS_LIB is unset this
# prints that it was skipped and exits 0. Never commit a copy of that lib.
#   NIXPKGS_LIB=/tmp/nixpkgs.lib tests/nix/eval-modules.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${NIXPKGS_LIB:-}" ]; then
  echo "module evaluation SKIPPED: NIXPKGS_LIB is unset (it needs a real nixpkgs lib directory;" \
    "e.g. a copy of nix-community/nixpkgs.lib; none is available from the package registries)"
  exit 0
fi
lib=$NIXPKGS_LIB
[ -f "$lib/lib/default.nix" ] && lib=$lib/lib
if [ ! -f "$lib/default.nix" ] || [ ! -f "$lib/modules.nix" ]; then
  echo "module evaluation: $NIXPKGS_LIB is not a nixpkgs lib directory" >&2
  exit 1
fi
lib=$(cd "$lib" && pwd)
for only in nixos hm; do
  nix-instantiate --eval --strict --readonly-mode --store dummy:// \
    --arg lib "import $lib" --argstr only "$only" "$here/module-eval.nix" | tr -d '"'
done
