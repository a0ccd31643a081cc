# Stand-in `legacyPackages.<system>`: every package is a real derivation
# whose builder refuses to run (see flake.nix beside this file).
{ lib, system }:

let
  isDarwin = lib.hasPrefix "x86_64-darwin" system || lib.hasPrefix "aarch64-darwin" system;
  platform = {
    inherit system isDarwin;
    isLinux = !isDarwin;
    canExecute = other: other.system == system;
  };

  # Keeps every argument on the result, so tests can read e.g. `postInstall`;
  # only strings, lists, numbers, booleans, paths and derivations reach
  # `derivation` itself.
  mkDerivation = args:
    let
      name = args.name or "${args.pname}-${args.version}";
      drvAttrs = lib.filterAttrs
        (_: value: !(builtins.isFunction value) && (!(builtins.isAttrs value) || value ? outPath))
        (builtins.removeAttrs args [ "name" "args" "builder" "system" ]);
      drv = derivation (drvAttrs // {
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" "echo 'nixpkgs stand-in: ${name} cannot be built' >&2; exit 1" ];
      });
    in
    args // (args.passthru or { }) // drv // {
      meta = args.meta or { };
      overrideAttrs = f: mkDerivation (args // f args);
    };

  stub = pname: mkDerivation { inherit pname; version = "0-stand-in"; meta.mainProgram = pname; };

  pkgs = {
    inherit lib;
    stdenv = {
      hostPlatform = platform;
      buildPlatform = platform;
      inherit mkDerivation;
    };
    callPackage = fn: overrides:
      let f = if builtins.isFunction fn then fn else import fn;
      in f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // overrides);
    rustPlatform = {
      buildRustPackage = mkDerivation;
      rustLibSrc = stub "rust-lib-src";
    };
    mkShell = args: mkDerivation ({ name = "nix-shell"; } // args);
    runCommand = name: env: buildCommand: mkDerivation (env // { inherit name buildCommand; });
    formats.toml = _: {
      generate = name: value: mkDerivation { inherit name; value = builtins.toJSON value; };
    };
  } // lib.genAttrs [
    "pkg-config"
    "installShellFiles"
    "makeWrapper"
    "git"
    "zlib"
    "libiconv"
    "cargo"
    "rustc"
    "clippy"
    "rustfmt"
    "rust-analyzer"
    "openssh"
    "lighttpd"
    "nixpkgs-fmt"
    "deadnix"
    "nix"
    "coreutils"
    "util-linux"
    "getent"
    "acl"
  ]
    stub;
in
pkgs
