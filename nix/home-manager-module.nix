# home-manager module: `programs.git-repo-sync` puts the tool in home.packages
# and, for `repositories`, writes each clone's mirror configuration and
# installs its hooks at activation (which registers them in the user's global
# git config), then syncs them on a systemd user timer (`schedule`). Importing
# it alone installs nothing.
self:
{ config
, lib
, pkgs
, ...
}:

let
  cfg = config.programs.git-repo-sync;
  shared = import ./repository-options.nix { inherit lib; };
  toml = pkgs.formats.toml { };

  # Hooks call the user's profile, not a store path, so they survive upgrades
  # and garbage collection. Should it ever be missing, the hooks fall back to
  # `git-repo-sync` on PATH, then warn and exit 0.
  hookBinary = "${config.home.profileDirectory}/bin/git-repo-sync";

  absolute = path: if lib.hasPrefix "/" path then path else "${config.home.homeDirectory}/${path}";

  installRepository =
    path: repository:
    shared.installScript {
      inherit hookBinary;
      inherit (cfg) package;
      path = absolute path;
      configFile = toml.generate "repo-sync.toml" (shared.configFor repository);
      # home-manager's dry-run aware command prefix.
      run = "run";
    };
in
{
  options.programs.git-repo-sync = {
    enable = lib.mkEnableOption "git-repo-sync, which keeps mirrors of git repositories up to date from git hooks";
    package = lib.mkOption {
      type = lib.types.package;
      default = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      defaultText = lib.literalExpression "inputs.git-repo-sync.packages.\${pkgs.stdenv.hostPlatform.system}.default";
      description = "The git-repo-sync package to use.";
    };
    repositories = shared.repositoriesOption ''
      The user's clones, by path (absolute, or relative to the home
      directory), that push themselves to their mirrors. Activation writes each
      one's `repo-sync.toml` (in its git common directory) and installs the
      hooks, which call `''${config.home.profileDirectory}/bin/git-repo-sync`.
      Takes effect only with `enable`.
    '';
    schedule = {
      enable = lib.mkOption {
        type = lib.types.bool;
        # systemd user units exist on Linux only; home-manager refuses them
        # elsewhere.
        default = cfg.repositories != { } && pkgs.stdenv.hostPlatform.isLinux;
        defaultText = lib.literalExpression "config.programs.git-repo-sync.repositories != { } && pkgs.stdenv.hostPlatform.isLinux";
        description = ''
          Run `git-repo-sync sync --all --quiet` every `interval` minutes from
          the systemd user units `git-repo-sync.service` and `.timer`. It
          brings the mirrors up to date with what no hook saw, and retries
          failed pushes; it covers every repository registered in the user's
          global git config, and contacts no mirror for a repository whose
          refs did not change. Linux only; takes effect only with `enable`.
        '';
      };
      interval = lib.mkOption {
        type = lib.types.ints.positive;
        default = 5;
        example = 15;
        description = "Minutes between two runs of the schedule.";
      };
    };
  };

  config = lib.mkIf cfg.enable {
    home.packages = [ cfg.package ];

    assertions = lib.optional cfg.schedule.enable {
      assertion = pkgs.stdenv.hostPlatform.isLinux;
      message = "programs.git-repo-sync.schedule needs systemd user units, which exist on Linux only.";
    };

    # Declared units rather than `git-repo-sync schedule start`, whose files
    # would live outside the home-manager generation.
    systemd.user.services.git-repo-sync = lib.mkIf cfg.schedule.enable {
      Unit.Description = "git-repo-sync: bring the mirrors of every registered repository up to date";
      Service = {
        Type = "oneshot";
        Nice = 10;
        ExecStart = "${hookBinary} sync --all --quiet";
      };
    };
    systemd.user.timers.git-repo-sync = lib.mkIf cfg.schedule.enable {
      Unit.Description = "git-repo-sync: sync every ${toString cfg.schedule.interval} minutes";
      Timer = {
        OnBootSec = "1min";
        OnUnitActiveSec = "${toString cfg.schedule.interval}min";
        RandomizedDelaySec = "15s";
      };
      Install.WantedBy = [ "timers.target" ];
    };

    home.activation.git-repo-sync = lib.mkIf (cfg.repositories != { }) (
      lib.hm.dag.entryAfter [ "writeBoundary" "installPackages" ] ''
        # A subshell, so that PATH and the variable stay out of later entries.
        (
        gitRepoSyncFailed=0
        PATH=${
          lib.makeBinPath [
            pkgs.git
            pkgs.coreutils
          ]
        }:$PATH
        ${lib.concatStrings (lib.mapAttrsToList installRepository cfg.repositories)}
        if [ "$gitRepoSyncFailed" != 0 ]; then
          echo "git-repo-sync: some repositories were skipped" >&2
        fi
        )
      ''
    );
  };
}
