# NixOS module: `programs.git-repo-sync` puts the tool on the system PATH;
# `services.git-repo-sync.repositories` makes server repositories mirror
# themselves, `services.git-repo-sync.roots` gives every repository below a
# directory mirrors (in /etc/git-repo-sync/config.toml), and
# `services.git-repo-sync.schedule` syncs them on a timer, and
# `services.git-repo-sync.metrics` has each pass write Prometheus metrics for
# node_exporter's textfile collector.
# Importing it alone installs and starts nothing.
self:
{ config
, lib
, pkgs
, ...
}:

let
  cfg = config.programs.git-repo-sync;
  repositories = config.services.git-repo-sync.repositories;
  roots = config.services.git-repo-sync.roots;
  schedule = config.services.git-repo-sync.schedule;
  metrics = config.services.git-repo-sync.metrics;
  declared = repositories != { } || roots != { };
  shared = import ./repository-options.nix { inherit lib; };
  toml = pkgs.formats.toml { };

  # Hooks call this path, not a store path: it is the current system's profile,
  # so it survives upgrades and garbage collection. Should it ever be missing,
  # the hooks fall back to `git-repo-sync` on PATH, then warn and exit 0.
  hookBinary = "/run/current-system/sw/bin/git-repo-sync";

  # `asUser USER COMMAND...`: runs COMMAND as USER with USER's HOME, so that
  # git reads and writes that user's global config: `install` registers the
  # repository there, and `sync --all` lists what is registered there.
  asUser = ''
    asUser() {
      local user=$1 home
      shift
      home=$(getent passwd "$user" | cut -d: -f6)
      runuser -u "$user" -- env HOME="$home" "$@"
    }
  '';

  unitPath = [
    pkgs.git
    pkgs.coreutils
    pkgs.util-linux
    pkgs.getent
  ]
  # setfacl, for the textfile directory.
  ++ lib.optional metrics.enable pkgs.acl;

  # Who the schedule runs `sync --all` as: the owner of each declared
  # repository and of each root without a `user`, looked up when it runs,
  # and each root's `user`.
  ownedPaths = builtins.attrNames repositories ++ builtins.attrNames (lib.filterAttrs (_: root: root.user == null) roots);
  rootUsers = lib.unique (lib.filter (user: user != null) (lib.mapAttrsToList (_: root: root.user) roots));

  installRepository =
    path: repository:
    shared.installScript {
      inherit path hookBinary;
      inherit (cfg) package;
      configFile = toml.generate "repo-sync.toml" (shared.configFor repository);
      # Run as the repository's owner: git refuses repositories owned by
      # someone else, and the files written must belong to that owner.
      runAs = ''asUser "$(stat -c %U "$repo")"'';
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
      `programs.git-repo-sync.enable` is turned on too. Each repository is
      also registered in its owner's global git config (`repo-sync.repo`), for
      `services.git-repo-sync.schedule`.
    '';

    services.git-repo-sync.roots = shared.rootsOption {
      description = ''
        Directories, by absolute path, every repository below which (bare or
        not, found anew on every run, so new ones included) pushes to the
        mirrors given here. They are written to
        `/etc/git-repo-sync/config.toml`, the system config, as
        `[roots."DIR".mirrors.NAME]`, and their URLs may be templates
        (`{{name}}`, `{{path}}`, `{{owner}}`). No hooks are installed: the
        schedule (`services.git-repo-sync.schedule`, on by default) is these
        repositories' trigger, as `git-repo-sync sync --all` searches every
        root of the system config each time, run as each root's `user`. A
        hook or a `sync` of a repository below a root also takes the root's
        mirrors, merged with the repository's own `repo-sync.toml` (whose
        mirror of the same name wins); `git-repo-sync config show [REPO]`
        prints the merged mirrors and where each value comes from. Also turns
        on `programs.git-repo-sync.enable`, for the path the schedule runs.
      '';
      options.user = lib.mkOption {
        type = lib.types.nullOr (lib.types.passwdEntry lib.types.str);
        default = null;
        example = "forgejo";
        description = ''
          The user `git-repo-sync sync --all` runs as for this root, with that
          user's `HOME` (its SSH keys and global git config); it should own
          the repositories below, as git refuses another user's repository.
          null: the owner of the directory, looked up each time the schedule
          runs (as for declared repositories). Set it when the directory
          belongs to someone else than its repositories, e.g. a `/srv/git`
          owned by root that holds the repositories of `git`. Whichever user
          a pass runs as, it searches every root of the system config, and
          reports a repository there that belongs to another user as
          failing: keep the roots and declared repositories of one machine
          with one user.
        '';
      };
    };

    services.git-repo-sync.schedule = {
      enable = lib.mkOption {
        type = lib.types.bool;
        default = declared;
        defaultText = lib.literalExpression "config.services.git-repo-sync.repositories != { } || config.services.git-repo-sync.roots != { }";
        description = ''
          Run `git-repo-sync sync --all --quiet` every `interval` minutes, as
          each distinct owner of the declared repositories and as each root's
          `user` (the systemd units `git-repo-sync-sync.service` and
          `.timer`). It brings the mirrors up to date with what no hook saw,
          and retries failed pushes; it covers every repository that user has
          registered and every repository below a root of the system config
          (`services.git-repo-sync.roots`) or of that user's own config, and
          contacts no mirror for a repository whose refs did not change.
        '';
      };
      interval = lib.mkOption {
        type = lib.types.ints.positive;
        default = 5;
        example = 15;
        description = "Minutes between two runs of the schedule.";
      };
    };

    services.git-repo-sync.metrics = {
      enable = lib.mkEnableOption ''
        Prometheus metrics of every mirror, served by node_exporter: each run
        of the schedule writes them into `metrics.textfileDir` (as
        `git-repo-sync.prom` when it runs as root, else
        `git-repo-sync-USER.prom`, each series labelled with `user`), and
        `services.prometheus.exporters.node` gets its textfile collector
        pointed there. Turn on `services.prometheus.exporters.node.enable`
        too, for node_exporter to serve them'';
      textfileDir = lib.mkOption {
        # Absolute, and without spaces, which a tmpfiles.d line would split.
        type = lib.types.strMatching "/[^[:space:]]+";
        default = "/var/lib/prometheus-node-exporter-text-files";
        example = "/var/lib/node-exporter-textfiles";
        description = ''
          The directory node_exporter's textfile collector reads
          (`--collector.textfile.directory`), made by systemd-tmpfiles,
          root's and readable by all. Before its pass, the schedule lets each
          user it runs as write there (an ACL entry, `setfacl -m u:USER:rwx`),
          and no one else. node_exporter takes one such directory: if other
          tools write theirs elsewhere, point this option at that directory
          rather than giving node_exporter a second flag.
        '';
      };
    };
  };

  config = lib.mkMerge [
    (lib.mkIf cfg.enable {
      environment.systemPackages = [ cfg.package ];
    })

    (lib.mkIf declared {
      programs.git-repo-sync.enable = lib.mkDefault true;

      warnings = lib.optional (!cfg.enable) ''
        services.git-repo-sync.repositories or .roots is set but programs.git-repo-sync.enable is false:
        the hooks and the schedule will look for git-repo-sync on PATH instead of ${hookBinary}.
      '';
    })

    (lib.mkIf (roots != { }) {
      assertions =
        lib.mapAttrsToList
          (path: _: {
            assertion = lib.hasPrefix "/" path;
            message = "services.git-repo-sync.roots: \"${path}\" is not an absolute path.";
          })
          roots
        ++ lib.concatLists (
          lib.mapAttrsToList (path: root: shared.mirrorNameAssertions "services.git-repo-sync.roots.\"${path}\".mirrors" root.mirrors) roots
        );

      # The system config: the roots' mirrors and nothing else.
      environment.etc."git-repo-sync/config.toml".source = toml.generate "git-repo-sync-config.toml" (shared.layerFor { inherit roots; });
    })

    (lib.mkIf (repositories != { }) {
      assertions = lib.mapAttrsToList
        (path: _: {
          assertion = lib.hasPrefix "/" path;
          message = "services.git-repo-sync.repositories: \"${path}\" is not an absolute path.";
        })
        repositories;

      systemd.services.git-repo-sync-repositories = {
        description = "Write git-repo-sync mirror configuration and install its hooks";
        wantedBy = [ "multi-user.target" ];
        after = [ "local-fs.target" ];
        path = unitPath;
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
        };
        script = ''
          ${asUser}
          gitRepoSyncFailed=0
          ${lib.concatStrings (lib.mapAttrsToList installRepository repositories)}
          exit "$gitRepoSyncFailed"
        '';
      };
    })

    (lib.mkIf (schedule.enable && declared) {
      # Declared units rather than `git-repo-sync schedule start`, whose user
      # timer would live outside the system configuration.
      systemd.services.git-repo-sync-sync = {
        description = "git-repo-sync: bring the mirrors of every registered repository and of those below the roots up to date";
        after = [
          "network-online.target"
          "git-repo-sync-repositories.service"
        ];
        wants = [ "network-online.target" ];
        path = unitPath;
        serviceConfig = {
          Type = "oneshot";
          Nice = 10;
        };
        # One pass per owner, with that owner's SSH keys and global git config.
        # A repository that is missing is reported by
        # git-repo-sync-repositories.service, not here every few minutes; a
        # root that is missing has nothing to sync.
        script = ''
          ${asUser}
          gitRepoSyncFailed=0
          owners=$(
            {
              ${lib.optionalString (ownedPaths != [ ]) "for path in ${lib.escapeShellArgs ownedPaths}; do stat -c %U \"$path\" 2>/dev/null || true; done"}
              ${lib.optionalString (rootUsers != [ ]) "printf '%s\\n' ${lib.escapeShellArgs rootUsers}"}
            } | sort -u
          )
          for owner in $owners; do
            ${lib.optionalString metrics.enable ''setfacl -m "u:$owner:rwx" ${lib.escapeShellArg metrics.textfileDir} || gitRepoSyncFailed=1''}
            asUser "$owner" ${hookBinary} sync --all --quiet${lib.optionalString metrics.enable " --textfile-dir ${lib.escapeShellArg metrics.textfileDir}"} || gitRepoSyncFailed=1
          done
          exit "$gitRepoSyncFailed"
        '';
      };

      systemd.timers.git-repo-sync-sync = {
        description = "git-repo-sync: sync every ${toString schedule.interval} minutes";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnBootSec = "1min";
          OnUnitActiveSec = "${toString schedule.interval}min";
          RandomizedDelaySec = "15s";
        };
      };
    })

    (lib.mkIf metrics.enable {
      # Root's, readable by node_exporter's (dynamic) user; each pass's user
      # is given write access by the schedule itself.
      systemd.tmpfiles.rules = [ "d ${metrics.textfileDir} 0755 root root - -" ];
      services.prometheus.exporters.node = {
        enabledCollectors = [ "textfile" ];
        extraFlags = [ "--collector.textfile.directory=${metrics.textfileDir}" ];
      };
      warnings =
        lib.optional (!config.services.prometheus.exporters.node.enable) ''
          services.git-repo-sync.metrics.enable is set but services.prometheus.exporters.node.enable is not:
          the schedule writes metrics into ${metrics.textfileDir} that nothing serves.
        ''
        ++ lib.optional (!(schedule.enable && declared)) ''
          services.git-repo-sync.metrics.enable is set but no schedule runs (see services.git-repo-sync.schedule.enable): no metrics are written.
        '';
    })

    (lib.mkIf (schedule.enable && !declared) {
      warnings = [ "services.git-repo-sync.schedule.enable is set but services.git-repo-sync.repositories and .roots are empty: no timer is made." ];
    })
  ];
}
