# home-manager module: `programs.git-repo-sync` puts the tool in home.packages
# and, for `repositories`, writes each clone's mirror configuration and
# installs its hooks at activation (which registers them in the user's global
# git config), then syncs them on a systemd user timer (`schedule`). `roots`
# and `mirrors` go to the user's config, ~/.config/git-repo-sync/config.toml.
# Importing it alone installs nothing.
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

  roots = lib.mapAttrs' (path: root: lib.nameValuePair (absolute path) root) cfg.roots;
  userConfig = cfg.roots != { } || cfg.mirrors != { };

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
    roots = shared.rootsOption {
      description = ''
        Directories, by path (absolute, or relative to the home directory),
        every repository below which (bare or not, found anew on every run,
        so new ones included) pushes to the mirrors given here. They are
        written to the user's config,
        `''${config.xdg.configHome}/git-repo-sync/config.toml`, as
        `[roots."DIR".mirrors.NAME]`, and their URLs may be templates
        (`{{name}}`, `{{path}}`, `{{owner}}`). No hooks are installed: the
        schedule (`schedule`, on by default on Linux) is these repositories'
        trigger, as `git-repo-sync sync --all` searches every root each time.
        A hook or a `sync` of a repository below a root also takes the root's
        mirrors, merged with the repository's own `repo-sync.toml` (whose
        mirror of the same name wins); `git-repo-sync config show [REPO]`
        prints the merged mirrors and where each value comes from. Takes
        effect only with `enable`.
      '';
    };
    mirrors = shared.mirrorsOption ''
      Mirrors of every repository of the user, by name: written to the user's
      config as `[mirrors.NAME]`; their URLs may use `{{name}}`. They apply
      wherever git-repo-sync runs for this user (the hooks of installed
      repositories, `sync`, the schedule), merged with each repository's own
      `repo-sync.toml`, whose mirror of the same name wins. Takes effect only
      with `enable`.
    '';
    schedule = {
      enable = lib.mkOption {
        type = lib.types.bool;
        # systemd user units exist on Linux only; home-manager refuses them
        # elsewhere.
        default = (cfg.repositories != { } || userConfig) && pkgs.stdenv.hostPlatform.isLinux;
        defaultText = lib.literalExpression "(repositories != { } || roots != { } || mirrors != { }) && pkgs.stdenv.hostPlatform.isLinux";
        description = ''
          Run `git-repo-sync sync --all --quiet` every `interval` minutes from
          the systemd user units `git-repo-sync.service` and `.timer`. It
          brings the mirrors up to date with what no hook saw, and retries
          failed pushes; it covers every repository registered in the user's
          global git config and every repository below a root of the user's
          or the system's config, and contacts no mirror for a repository
          whose refs did not change. Linux only; takes effect only with
          `enable`.
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

    assertions =
      lib.optional cfg.schedule.enable
        {
          assertion = pkgs.stdenv.hostPlatform.isLinux;
          message = "programs.git-repo-sync.schedule needs systemd user units, which exist on Linux only.";
        }
      ++ shared.mirrorNameAssertions "programs.git-repo-sync.mirrors" cfg.mirrors
      ++ lib.concatLists (
        lib.mapAttrsToList (path: root: shared.mirrorNameAssertions "programs.git-repo-sync.roots.\"${path}\".mirrors" root.mirrors) cfg.roots
      );

    # The user's config, only when there is something in it.
    xdg.configFile."git-repo-sync/config.toml" = lib.mkIf userConfig {
      source = toml.generate "git-repo-sync-config.toml" (shared.layerFor {
        inherit roots;
        inherit (cfg) mirrors;
      });
    };

    # Declared units rather than `git-repo-sync schedule start`, whose files
    # would live outside the home-manager generation.
    systemd.user.services.git-repo-sync = lib.mkIf cfg.schedule.enable {
      Unit.Description = "git-repo-sync: bring the mirrors of every registered repository and of those below the roots up to date";
      Service = {
        Type = "oneshot";
        Nice = 10;
        ExecStart = "${hookBinary} sync --all --quiet";
      }
      // lib.optionalAttrs userConfig {
        # Where the user's config is, should the user manager not know.
        Environment = [ "XDG_CONFIG_HOME=${config.xdg.configHome}" ];
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
