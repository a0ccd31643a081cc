# Wiring tests for the flake's outputs, evaluated on the nixpkgs stand-in.
# tests/nix/wiring.sh applies each function below to one flake output with
#   nix eval --impure --json --override-input nixpkgs path:<stand-in> .#<output> --apply ...
# Each returns an attribute set of named booleans (true = passed) or values
# that the script compares.
{ standin, cargoToml }:

let
  lib = import (standin + "/lib.nix");
  pkgsFor = system: import (standin + "/pkgs.nix") { inherit lib system; };
  inherit ((builtins.fromTOML (builtins.readFile cargoToml)).package) version;
  # No regex: the searched strings are full of regex metacharacters.
  has =
    infix: text:
    let
      n = builtins.stringLength infix;
      go = i: i + n <= builtins.stringLength text && (builtins.substring i n text == infix || go (i + 1));
    in
    go 0;
  contains = infix: text: has infix (builtins.unsafeDiscardStringContext text);
  exists = path: builtins.pathExists (builtins.unsafeDiscardStringContext path);
in
{
  packages = builtins.mapAttrs (
    system: packages:
      let
        p = packages.default;
        inherit (pkgsFor system) git;
      in
      {
        default-is-git-repo-sync = p.drvPath == packages.git-repo-sync.drvPath;
        version-matches-cargo-toml = p.version == version && p.name == "git-repo-sync-${version}";
        meta-main-program = p.meta.mainProgram == "git-repo-sync";
        meta-description = p.meta.description != "";
        meta-license = map (l: l.spdxId) p.meta.license == [ "MIT" "Apache-2.0" ];
        cargo-lock-used = p.cargoLock.lockFile != null;
        git-on-wrapped-path = contains "wrapProgram $out/bin/git-repo-sync --prefix PATH : ${git}/bin" p.postInstall;
        git-for-tests = builtins.elem git p.nativeCheckInputs;
        completions-and-man-page = contains "installShellCompletion" p.postInstall && contains "installManPage" p.postInstall;
        src-has-crate = exists "${p.src}/Cargo.toml" && exists "${p.src}/Cargo.lock" && exists "${p.src}/src";
        src-filtered = !(exists "${p.src}/target") && !(exists "${p.src}/.git") && !(exists "${p.src}/flake.nix") && !(exists "${p.src}/tests/nix");
      }
  );

  apps = builtins.mapAttrs (_: apps: {
    inherit (apps.default) type program;
  });

  devShells = builtins.mapAttrs (
    _: shells:
      let
        names = map (p: p.pname or p.name) shells.default.packages;
      in
      {
        dev-shell-has-tools = builtins.all (tool: builtins.elem tool names) [
          "cargo"
          "rustc"
          "clippy"
          "rustfmt"
          "rust-analyzer"
          "git"
          "openssh"
          "nixpkgs-fmt"
          "deadnix"
        ];
        dev-shell-has-package-inputs = map (p: p.pname) shells.default.inputsFrom == [ "git-repo-sync" ];
      }
  );

  outPaths = builtins.mapAttrs (_: packages: builtins.unsafeDiscardStringContext packages.default.outPath);

  # nixosModules and homeManagerModules: a module, that is a function of the
  # module arguments (`flake show` cannot tell for homeManagerModules).
  modules = modules: {
    default-is-a-module = builtins.isFunction modules.default;
    only-default = builtins.attrNames modules == [ "default" ];
  };

  # The NixOS module's metrics options, evaluated once on the stand-in
  # (module-standin.nix; module-eval.nix evaluates them with a real lib):
  # each scheduled pass writes into node_exporter's textfile directory.
  nixosModuleMetrics =
    modules:
    let
      inherit (import ./module-standin.nix { inherit lib; }) evalOnce update;
      evaluate = given: evalOnce {
        module = modules.default;
        pkgs = pkgsFor "x86_64-linux";
        given = update
          {
            programs.git-repo-sync.enable = true;
            services.git-repo-sync.roots."/srv/git" = {
              user = "git";
              mirrors.nas = "/mnt/nas/{{name}}.git";
            };
            services.prometheus.exporters.node.enable = true;
          }
          given;
      };
      on = evaluate { services.git-repo-sync.metrics.enable = true; };
      off = evaluate { };
      elsewhere = evaluate { services.git-repo-sync.metrics = { enable = true; textfileDir = "/srv/textfiles"; }; };
      script = result: result.defines.systemd.services.git-repo-sync-sync.script;
      writes = dir: result:
        has "setfacl -m \"u:$owner:rwx\" ${dir} || gitRepoSyncFailed=1" (script result)
        && has "git-repo-sync sync --all --quiet --textfile-dir ${dir} ||" (script result);
      dirType = on.options.services.git-repo-sync.metrics.textfileDir.type;
      defaultDir = "/var/lib/prometheus-node-exporter-text-files";
    in
    {
      metrics-off-by-default =
        !off.config.services.git-repo-sync.metrics.enable
        && !(off.defines ? services.prometheus)
        && !(off.defines.systemd ? tmpfiles)
        && !(has "--textfile-dir" (script off))
        && !(has "setfacl" (script off));
      metrics-textfile-dir-default = on.config.services.git-repo-sync.metrics.textfileDir == defaultDir;
      metrics-wire-the-node-exporters-textfile-collector =
        on.defines.services.prometheus.exporters.node == {
          enabledCollectors = [ "textfile" ];
          extraFlags = [ "--collector.textfile.directory=${defaultDir}" ];
        };
      metrics-directory-made = on.defines.systemd.tmpfiles.rules == [ "d ${defaultDir} 0755 root root - -" ];
      metrics-each-owner-writes-there =
        writes defaultDir on && builtins.elem "acl" (map (p: p.pname) on.defines.systemd.services.git-repo-sync-sync.path);
      metrics-textfile-dir-option =
        writes "/srv/textfiles" elsewhere
        && elsewhere.defines.services.prometheus.exporters.node.extraFlags == [ "--collector.textfile.directory=/srv/textfiles" ]
        && elsewhere.defines.systemd.tmpfiles.rules == [ "d /srv/textfiles 0755 root root - -" ];
      metrics-textfile-dir-absolute-without-spaces =
        dirType.check "/srv/textfiles" && !(dirType.check "textfiles") && !(dirType.check "/srv/node exporter");
      metrics-no-warning = on.defines.warnings == [ ];
      metrics-without-node-exporter-warns =
        (evaluate {
          services.git-repo-sync.metrics.enable = true;
          services.prometheus.exporters.node.enable = false;
        }).defines.warnings != [ ];
    };

  overlays =
    overlays:
    let
      prev = pkgsFor "x86_64-linux";
      final = prev // overlays.default final prev;
    in
    {
      overlay-adds-git-repo-sync = final ? git-repo-sync && final.git-repo-sync.pname == "git-repo-sync";
      overlay-version-matches-cargo-toml = final.git-repo-sync.version == version;
      overlay-keeps-other-packages = final.git.drvPath == prev.git.drvPath;
    };
}
