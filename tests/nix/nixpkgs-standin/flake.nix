# A STAND-IN for nixpkgs, not a copy of it: just enough `lib` and
# `legacyPackages.<system>` for this project's flake to evaluate offline
# (`nix flake show`, `nix flake check --no-build`, tests/nix/wiring.nix) with
#   --override-input nixpkgs path:tests/nix/nixpkgs-standin
# Its packages are real derivations whose builder only fails: their drvPath
# evaluates for every system, darwin included, and nothing is ever built.
{
  description = "nixpkgs stand-in for git-repo-sync's offline flake tests";

  outputs = _: rec {
    lib = import ./lib.nix;
    legacyPackages = lib.genAttrs [
      "x86_64-linux"
      "aarch64-linux"
      "x86_64-darwin"
      "aarch64-darwin"
    ]
      (system: import ./pkgs.nix { inherit lib system; });
  };
}
