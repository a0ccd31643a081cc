#!/usr/bin/env bash
# Offline wiring tests of flake.nix on the nixpkgs stand-in (no nixpkgs, no
# network, nothing built). Run from anywhere inside the repository; the flake
# files must be tracked by git (Nix only sees tracked files).
#   tests/nix/wiring.sh
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
standin="$root/tests/nix/nixpkgs-standin"
export NIX_CONFIG=${NIX_CONFIG:-$'experimental-features = nix-command flakes\nsubstituters =\ndownload-attempts = 1'}
override=(--override-input nixpkgs "path:$standin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Each helper evaluates one output; stderr (lock-file notices) goes to a log
# that is shown only on failure.
evaluate() { # evaluate OUTPUT FUNCTION -> JSON on stdout
  if ! nix eval --impure --json "${override[@]}" ".#$1" \
    --apply "(import $root/tests/nix/wiring.nix { standin = $standin; cargoToml = $root/Cargo.toml; }).$2" \
    2>"$work/stderr"; then
    cat "$work/stderr" >&2
    echo "wiring: nix eval .#$1 failed" >&2
    exit 1
  fi
}

if ! nix flake show --json "${override[@]}" >"$work/show.json" 2>"$work/stderr"; then
  cat "$work/stderr" >&2
  echo "wiring: nix flake show failed" >&2
  exit 1
fi
evaluate packages packages >"$work/packages.json"
evaluate packages outPaths >"$work/outpaths.json"
evaluate apps apps >"$work/apps.json"
evaluate devShells devShells >"$work/devShells.json"
evaluate overlays overlays >"$work/overlays.json"
evaluate nixosModules modules >"$work/nixosModules.json"
evaluate homeManagerModules modules >"$work/homeManagerModules.json"
evaluate nixosModules nixosModuleMetrics >"$work/nixosModuleMetrics.json"

python3 - "$work" <<'PY'
import json, sys, os
work = sys.argv[1]
load = lambda name: json.load(open(os.path.join(work, name)))
show, packages, outpaths, apps, overlays = (load(n + ".json") for n in ("show", "packages", "outpaths", "apps", "overlays"))
systems = ["x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"]
results = []
def check(name, ok):
    results.append((name, bool(ok)))

expected = {
    "packages": ["default", "git-repo-sync"],
    "apps": ["default"],
    "devShells": ["default"],
    "checks": ["package", "clippy", "rustfmt", "nixos-module", "home-manager-module"],
}
for output, names in expected.items():
    for system in systems:
        present = show.get(output, {}).get(system, {})
        check(f"{output}.{system} has {', '.join(names)}", all(n in present for n in names))
for system in systems:
    check(f"formatter.{system} exists", system in show.get("formatter", {}))
check("overlays.default exists", "default" in show.get("overlays", {}))
for output in ("nixosModules", "homeManagerModules"):
    for name, ok in load(output + ".json").items():
        check(f"{output}: {name}", ok)
for name, ok in load("nixosModuleMetrics.json").items():
    check(f"nixosModules.default, evaluated once on the stand-in: {name}", ok)
for deprecated in ("defaultPackage", "defaultApp", "devShell", "overlay", "nixosModule", "defaultTemplate"):
    check(f"no deprecated output {deprecated}", deprecated not in show)
check("only the four systems", all(set(show[o]) == set(systems) for o in ("packages", "apps", "devShells", "checks", "formatter")))

for system in systems:
    for name, ok in packages[system].items():
        check(f"packages.{system}: {name}", ok)
    app = apps[system]
    check(f"apps.{system}.default is an app", app["type"] == "app")
    check(f"apps.{system}.default.program points into packages.{system}.default",
          app["program"] == outpaths[system] + "/bin/git-repo-sync")
for system, checks in load("devShells.json").items():
    for name, ok in checks.items():
        check(f"devShells.{system}: {name}", ok)
for name, ok in overlays.items():
    check(f"overlays.default: {name}", ok)

failed = [name for name, ok in results if not ok]
for name, ok in results:
    print(("ok     " if ok else "FAILED ") + name)
print(f"wiring: {len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
PY
