# NixOS module: `programs.git-repo-sync` puts the tool on the system PATH;
# `services.git-repo-sync.repositories` makes server repositories mirror
# themselves. Importing it alone installs and starts nothing.
self:
{ config
, lib
, pkgs
, ...
}:

let
  cfg = config.programs.git-repo-sync;
  repositories = config.services.git-repo-sync.repositories;
  shared = import ./repository-options.nix { inherit lib; };
  toml = pkgs.formats.toml { };

  # Hooks call this path, not a store path: it is the current system's profile,
  # so it survives upgrades and garbage collection. Should it ever be missing,
  # the hooks fall back to `git-repo-sync` on PATH, then warn and exit 0.
  hookBinary = "/run/current-system/sw/bin/git-repo-sync";

  installRepository =
    path: repository:
    shared.installScript {
      inherit path hookBinary;
      inherit (cfg) package;
      configFile = toml.generate "repo-sync.toml" (shared.configFor repository);
      # Run as the repository's owner: git refuses repositories owned by
      # someone else, and the files written must belong to that owner.
      runAs = ''runuser -u "$(stat -c %U "$repo")" --'';
    };
in
{
  options = {
    programs.git-repo-sync = {
      enable = lib.mkEnableOption "git-repo-sync, which keeps mirrors of git repositories up to date from git hooks";
      package = lib.mkOption {
        type = lib.types.package;
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        defaultText = lib.literalExpression "inputs.git-repo-sync.packages.\${pkgs.stdenv.hostPlatform.system}.default";
        description = "The git-repo-sync package to use.";
      };
    };

    services.git-repo-sync.repositories = shared.repositoriesOption ''
      Repositories on this machine, by absolute path (a bare repository or a
      clone), that push themselves to their mirrors. At activation the unit
      `git-repo-sync-repositories.service` writes each one's
      `repo-sync.toml` (in its git common directory) and installs the hooks,
      as the repository's owner. The hooks call
      `/run/current-system/sw/bin/git-repo-sync`, so
      `programs.git-repo-sync.enable` is turned on too.
    '';
  };

  config = lib.mkMerge [
    (lib.mkIf cfg.enable {
      environment.systemPackages = [ cfg.package ];
    })

    (lib.mkIf (repositories != { }) {
      programs.git-repo-sync.enable = lib.mkDefault true;

      assertions = lib.mapAttrsToList
        (path: _: {
          assertion = lib.hasPrefix "/" path;
          message = "services.git-repo-sync.repositories: \"${path}\" is not an absolute path.";
        })
        repositories;

      warnings = lib.optional (!cfg.enable) ''
        services.git-repo-sync.repositories is set but programs.git-repo-sync.enable is false:
        the hooks will look for git-repo-sync on PATH instead of ${hookBinary}.
      '';

      systemd.services.git-repo-sync-repositories = {
        description = "Write git-repo-sync mirror configuration and install its hooks";
        wantedBy = [ "multi-user.target" ];
        after = [ "local-fs.target" ];
        path = [
          pkgs.git
          pkgs.coreutils
          pkgs.util-linux
        ];
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
        };
        script = ''
          gitRepoSyncFailed=0
          ${lib.concatStrings (lib.mapAttrsToList installRepository repositories)}
          exit "$gitRepoSyncFailed"
        '';
      };
    })
  ];
}
