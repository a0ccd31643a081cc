# Options shared by the NixOS and home-manager modules: one repository with its
# mirrors, and how it becomes `<git common dir>/repo-sync.toml`.
{ lib }:

let
  inherit (lib) types mkOption;

  mirrorModule = {
    options = {
      url = mkOption {
        type = types.str;
        example = "git@github.com:me/x.git";
        description = "URL that git pushes this mirror to.";
      };
      refs = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
        example = [
          "refs/heads/*"
          "refs/tags/*"
        ];
        description = "Refs to mirror; null keeps git-repo-sync's default.";
      };
      prune = mkOption {
        type = types.nullOr types.bool;
        default = null;
        description = "Delete refs on the mirror that are gone here; null keeps the default.";
      };
      force = mkOption {
        type = types.nullOr types.bool;
        default = null;
        description = "Force-push rewritten refs; null keeps the default.";
      };
    };
  };

  repositoryModule = {
    options.mirrors = mkOption {
      type = types.attrsOf (types.coercedTo types.str (url: { inherit url; }) (types.submodule mirrorModule));
      default = { };
      example = {
        github = "git@github.com:me/x.git";
      };
      description = ''
        Mirrors of this repository, by name. A string is the mirror's URL; an
        attribute set also takes `refs`, `prune` and `force`.
      '';
    };
  };
in
{
  repositoriesOption =
    description:
    mkOption {
      type = types.attrsOf (types.submodule repositoryModule);
      default = { };
      example = lib.literalExpression ''
        {
          "/srv/git/project.git".mirrors.github = "git@github.com:me/project.git";
        }
      '';
      inherit description;
    };

  # The TOML document for one repository, nulls left out.
  configFor = repository: {
    mirrors = lib.mapAttrs (_: mirror: lib.filterAttrs (_: value: value != null) mirror) repository.mirrors;
  };

  # Shell that writes one repository's config and installs its hooks; sets
  # `gitRepoSyncFailed=1` when the path is not a repository. Expects git and coreutils on
  # PATH. Every command runs through `runAs` (a user switch); those that
  # change something also through `run` (a dry-run helper).
  installScript =
    { path
    , configFile
    , package
    , hookBinary
    , runAs ? ""
    , run ? ""
    }:
    ''
      repo=${lib.escapeShellArg path}
      if [ -d "$repo" ] && common=$(${runAs} git -C "$repo" rev-parse --path-format=absolute --git-common-dir); then
        ${run} ${runAs} install -m 0644 ${configFile} "$common/repo-sync.toml"
        ${run} ${runAs} ${package}/bin/git-repo-sync install --yes --hook-binary ${lib.escapeShellArg hookBinary} "$repo"
      else
        echo "git-repo-sync: $repo is not a git repository; skipped" >&2
        gitRepoSyncFailed=1
      fi
    '';
}
