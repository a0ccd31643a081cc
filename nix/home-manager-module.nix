# home-manager module: `programs.git-repo-sync` puts the tool in home.packages
# and, for `repositories`, writes each clone's mirror configuration and
# installs its hooks at activation. Importing it alone installs nothing.
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
  };

  config = lib.mkIf cfg.enable {
    home.packages = [ cfg.package ];

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
