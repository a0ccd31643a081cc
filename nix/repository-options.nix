# Options shared by the NixOS and home-manager modules: mirrors, one repository
# with its mirrors, roots (directories whose every repository gets mirrors), and
# how they become `<git common dir>/repo-sync.toml` or a system or user
# `config.toml`.
{ lib }:

let
  inherit (lib) types mkOption;

  # Every key has the default null, which leaves it out of the file, so that
  # git-repo-sync's own default applies.
  optional = type: description: mkOption {
    type = types.nullOr type;
    default = null;
    inherit description;
  };

  mirrorModule = {
    options = {
      url = mkOption {
        type = types.str;
        example = "git@github.com:me/x.git";
        description = ''
          URL that git pushes this mirror to. In a root's mirrors, and in
          home-manager's `programs.git-repo-sync.mirrors`, a template:
          `{{name}}` is the repository's directory name without `.git`; in a
          root's also `{{path}}`, its path below the root without `.git`, and
          `{{owner}}`, the first directory of `{{path}}`.
        '';
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
      prune = optional types.bool "Delete refs on the mirror that are gone here; null keeps the default.";
      force = optional types.bool "Force-push rewritten refs; null keeps the default.";
      identity_file = optional (types.strMatching "/.*") ''
        ssh only: the private key for this mirror, by absolute path (a string,
        so that the key is not copied into the Nix store).
      '';
      token_env = optional types.str "http(s) only: the environment variable that holds the password or token.";
      timeout = optional (types.ints.between 1 86400) "Seconds without any sign of life from the mirror before it is reported as failed.";
      trust_new_host_key = optional types.bool "ssh only: accept and remember the host key of a host never seen before.";
      retries = optional (types.ints.between 0 20) "How often a background sync tries the mirror again after a failure that may pass.";
      retry_max_delay = optional (types.ints.between 1 3600) "The longest wait between two tries, in seconds.";
      ssh_keep_open = optional (types.ints.between 0 3600) "ssh only: seconds the connection stays open after a sync, for the next one to the same host; 0 closes it with the sync.";
      shallow = optional types.bool "Push a shallow clone as it is (the mirror must accept shallow pushes); without it a shallow clone is refused.";
      lfs_url = optional types.str "ssh and http(s) only: the Git LFS server for this mirror's large files, where it is not the one git-lfs finds for the mirror's URL; no credentials in it.";
      create = optional types.bool "Local mirrors only: create the mirror, empty, when it is missing but the directory its URL names before any template is there.";
      on_failure = optional types.str "A command run by `sh -c` when the mirror starts failing.";
    };
  };

  mirrorsOption =
    description:
    mkOption {
      type = types.attrsOf (types.coercedTo types.str (url: { inherit url; }) (types.submodule mirrorModule));
      default = { };
      example = {
        github = "git@github.com:me/x.git";
      };
      description = ''
        ${description} A string is the mirror's URL; an attribute set also
        takes the other keys of a mirror in `repo-sync.toml` (`refs`,
        `prune`, `force`, `identity_file`, `token_env`, `timeout`,
        `trust_new_host_key`, `retries`, `retry_max_delay`, `ssh_keep_open`, `shallow`, `lfs_url`,
        `create`, `on_failure`),
        each left to git-repo-sync's default when null.
      '';
    };

  repositoryModule = {
    options.mirrors = mirrorsOption "Mirrors of this repository, by name.";
  };

  # A mirror as the file holds it: nulls left out.
  mirrorsFile = lib.mapAttrs (_: mirror: lib.filterAttrs (_: value: value != null) mirror);
in
{
  inherit mirrorsOption;

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

  # `roots.<dir>.mirrors`, plus the module's own options of a root.
  rootsOption =
    { description
    , options ? { }
    }:
    mkOption {
      type = types.attrsOf (types.submodule {
        options = {
          mirrors = mirrorsOption "Mirrors of every repository below this directory, by name.";
        } // options;
      });
      default = { };
      example = lib.literalExpression ''
        {
          "/srv/git".mirrors.github = "git@github.com:org/{{path}}.git";
        }
      '';
      inherit description;
    };

  # The TOML document for one repository, nulls left out.
  configFor = repository: {
    mirrors = mirrorsFile repository.mirrors;
  };

  # The TOML document of a system or user config: `[mirrors.NAME]` for every
  # repository and `[roots."DIR".mirrors.NAME]`, each only when there are some.
  layerFor =
    { mirrors ? { }
    , roots ? { }
    }:
    lib.optionalAttrs (mirrors != { }) { mirrors = mirrorsFile mirrors; }
    // lib.optionalAttrs (roots != { }) {
      roots = lib.mapAttrs (_: root: { mirrors = mirrorsFile root.mirrors; }) roots;
    };

  # Assertions that the mirror names of a system or user config are ones
  # git-repo-sync accepts: a bad name there would break every repository.
  mirrorNameAssertions =
    option: mirrors:
    lib.mapAttrsToList
      (name: _: {
        assertion = builtins.match "[A-Za-z0-9._-]+" name != null;
        message = "${option}: mirror name \"${name}\" may hold letters, digits, `.`, `_` and `-` only.";
      })
      mirrors;

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
