# Evaluates nix/nixos-module.nix and nix/home-manager-module.nix with a real
# nixpkgs `lib` (lib.evalModules). NixOS and home-manager themselves are not
# here, so the few options the modules set (environment.systemPackages,
# environment.etc, systemd.services, systemd.timers, home.packages,
# home.activation, systemd.user.*, xdg.configFile, ...) are declared by small
# stand-in modules below, and packages are stand-in derivations. A stand-in
# TOML file keeps the value it was generated from (`.value`), which the cases
# compare with builtins.fromTOML of the text git-repo-sync expects.
#
#   nix-instantiate --eval --strict --readonly-mode --arg lib 'import <nixpkgs>/lib' tests/nix/module-eval.nix
#
# Prints "N passed, 0 failed"; throws, naming the failed cases, otherwise.
# `--argstr only nixos` or `--argstr only hm` runs one module's cases.
{ lib, only ? "" }:

let
  inherit (lib) types mkOption;

  fakeDrv = name: system: derivation {
    inherit name system;
    builder = "/bin/sh";
    args = [ "-c" "exit 1" ];
  };

  systems = [ "x86_64-linux" "aarch64-linux" "aarch64-darwin" ];

  # What the flake passes as `self`: one package per system, each different.
  fakeSelf.packages = lib.genAttrs systems (system: {
    default = fakeDrv "git-repo-sync-for-${system}" system;
  });

  fakePkgs = system: {
    stdenv.hostPlatform = {
      inherit system;
      isLinux = lib.hasSuffix "-linux" system;
    };
    formats.toml = _: {
      generate = name: value: fakeDrv "${name}-${builtins.hashString "sha256" (builtins.toJSON value)}" system // { inherit value; };
    };
    git = fakeDrv "git" system;
    coreutils = fakeDrv "coreutils" system;
    util-linux = fakeDrv "util-linux" system;
    getent = fakeDrv "getent" system;
    acl = fakeDrv "acl" system;
  };

  anything = default: mkOption { type = types.anything; inherit default; };

  nixosStubs = {
    options = {
      environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
      environment.etc = mkOption { type = types.attrsOf types.anything; default = { }; };
      systemd.services = mkOption { type = types.attrsOf types.anything; default = { }; };
      systemd.timers = mkOption { type = types.attrsOf types.anything; default = { }; };
      systemd.tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; };
      services.prometheus.exporters.node = {
        enable = mkOption { type = types.bool; default = false; };
        enabledCollectors = mkOption { type = types.listOf types.str; default = [ ]; };
        extraFlags = mkOption { type = types.listOf types.str; default = [ ]; };
      };
      assertions = anything [ ];
      warnings = mkOption { type = types.listOf types.str; default = [ ]; };
    };
  };

  hmStubs = { config, ... }: {
    options.assertions = anything [ ];
    options.xdg = {
      configFile = mkOption { type = types.attrsOf types.anything; default = { }; };
      configHome = mkOption { type = types.str; default = "${config.home.homeDirectory}/.config"; };
    };
    options.systemd.user = {
      services = mkOption { type = types.attrsOf types.anything; default = { }; };
      timers = mkOption { type = types.attrsOf types.anything; default = { }; };
    };
    options.home = {
      packages = mkOption { type = types.listOf types.package; default = [ ]; };
      activation = mkOption { type = types.attrsOf types.anything; default = { }; };
      username = mkOption { type = types.str; default = "alice"; };
      homeDirectory = mkOption { type = types.str; default = "/home/${config.home.username}"; };
      profileDirectory = mkOption { type = types.str; default = "${config.home.homeDirectory}/.nix-profile"; };
    };
  };

  # home-manager hands its modules `lib` extended with `lib.hm`; its DAG
  # entries are { data, after, before }.
  hmLib = lib // {
    hm.dag.entryAfter = after: data: { inherit data after; before = [ ]; };
  };

  evalNixos = system: config:
    (lib.evalModules {
      modules = [
        (import ../../nix/nixos-module.nix fakeSelf)
        nixosStubs
        { _module.args.pkgs = fakePkgs system; }
        config
      ];
    }).config;

  evalHm = system: config:
    (lib.evalModules {
      specialArgs.lib = hmLib;
      modules = [
        (import ../../nix/home-manager-module.nix fakeSelf)
        hmStubs
        { _module.args.pkgs = fakePkgs system; }
        config
      ];
    }).config;

  names = map (drv: drv.name);
  has = infix: text: lib.hasInfix (builtins.unsafeDiscardStringContext infix) (builtins.unsafeDiscardStringContext text);

  custom = fakeDrv "my-own-git-repo-sync" "x86_64-linux";

  serverRepos = {
    "/srv/git/project.git".mirrors = {
      github = "git@github.com:me/project.git";
      backup = {
        url = "/mnt/backup/project.git";
        refs = [ "refs/heads/*" ];
        prune = true;
      };
    };
  };
  # The file the modules must write for serverRepos: nulls dropped.
  expectedFile = system: ((fakePkgs system).formats.toml { }).generate "repo-sync.toml" {
    mirrors = {
      github.url = "git@github.com:me/project.git";
      backup = {
        url = "/mnt/backup/project.git";
        refs = [ "refs/heads/*" ];
        prune = true;
      };
    };
  };

  nixosBare = evalNixos "x86_64-linux" { };
  nixosServer = evalNixos "x86_64-linux" { services.git-repo-sync.repositories = serverRepos; };
  nixosUnit = nixosServer.systemd.services.git-repo-sync-repositories;
  hmBare = evalHm "x86_64-linux" { };
  hmRepos = evalHm "aarch64-darwin" {
    programs.git-repo-sync = {
      enable = true;
      repositories = { "src/project" = serverRepos."/srv/git/project.git"; };
    };
  };
  hmEntry = hmRepos.home.activation.git-repo-sync;

  # The schedule.
  nixosSyncUnit = nixosServer.systemd.services.git-repo-sync-sync;
  nixosTimer = nixosServer.systemd.timers.git-repo-sync-sync;
  nixosEvery15 = evalNixos "x86_64-linux" {
    services.git-repo-sync = {
      repositories = serverRepos;
      schedule.interval = 15;
    };
  };
  nixosTwoRepos = evalNixos "x86_64-linux" {
    services.git-repo-sync.repositories = serverRepos // { "/srv/git/notes.git".mirrors.a = "/x"; };
  };
  nixosNoSchedule = evalNixos "x86_64-linux" {
    services.git-repo-sync = {
      repositories = serverRepos;
      schedule.enable = false;
    };
  };
  nixosScheduleWithoutRepositories = evalNixos "x86_64-linux" { services.git-repo-sync.schedule.enable = true; };
  noSync = config: !(config.systemd.services ? git-repo-sync-sync) && !(config.systemd.timers ? git-repo-sync-sync);

  hmLinux = extra: evalHm "x86_64-linux" {
    programs.git-repo-sync = {
      enable = true;
      repositories."src/project" = serverRepos."/srv/git/project.git";
    } // extra;
  };
  hmScheduled = hmLinux { };
  hmEvery30 = hmLinux { schedule.interval = 30; };
  hmService = hmScheduled.systemd.user.services.git-repo-sync;
  hmTimer = hmScheduled.systemd.user.timers.git-repo-sync;
  hmNoSync = config: config.systemd.user.services == { } && config.systemd.user.timers == { };
  # A type error is a `throw`: tryEval sees it.
  rejects = value: !(builtins.tryEval (builtins.deepSeq value value)).success;
  allHold = config: builtins.all (a: a.assertion) config.assertions;

  # Metrics: the schedule writes them where node_exporter's textfile
  # collector reads.
  nixosMetrics = extra: evalNixos "x86_64-linux" {
    services.git-repo-sync = {
      repositories = serverRepos;
      metrics = { enable = true; } // extra;
    };
    services.prometheus.exporters.node.enable = true;
  };
  nixosMetricsOn = nixosMetrics { };
  nodeExporter = config: config.services.prometheus.exporters.node;
  metricsWritten = dir: config:
    let script = config.systemd.services.git-repo-sync-sync.script; in
    has "setfacl -m \"u:$owner:rwx\" ${dir} || gitRepoSyncFailed=1" script
    && has "asUser \"$owner\" /run/current-system/sw/bin/git-repo-sync sync --all --quiet --textfile-dir ${dir} ||" script;

  # Roots: every repository below a directory, through the system or user
  # config. The issue's example, and one root with a user and a full mirror.
  serverRoots = {
    "/srv/git".mirrors.github = "git@github.com:org/{{name}}.git";
    "/srv/forge".user = "forgejo";
    "/srv/forge".mirrors.nas = {
      url = "/mnt/nas/{{owner}}/{{path}}.git";
      retries = 5;
      prune = false;
      timeout = 120;
    };
  };
  # What git-repo-sync must read in /etc/git-repo-sync/config.toml for them.
  serverRootsToml = builtins.fromTOML ''
    [roots."/srv/git".mirrors.github]
    url = "git@github.com:org/{{name}}.git"

    [roots."/srv/forge".mirrors.nas]
    url = "/mnt/nas/{{owner}}/{{path}}.git"
    retries = 5
    prune = false
    timeout = 120
  '';
  etcFile = config: config.environment.etc."git-repo-sync/config.toml".source.value;
  nixosRoots = evalNixos "x86_64-linux" { services.git-repo-sync.roots = serverRoots; };
  nixosRootsSync = nixosRoots.systemd.services.git-repo-sync-sync;
  nixosRootsAndRepos = evalNixos "x86_64-linux" {
    services.git-repo-sync = {
      roots = serverRoots;
      repositories = serverRepos;
    };
  };
  nixosRootsOnlyWithUser = evalNixos "x86_64-linux" {
    services.git-repo-sync.roots."/srv/forge" = serverRoots."/srv/forge";
  };

  hmRootsConfig = extra: evalHm "x86_64-linux" {
    programs.git-repo-sync = {
      enable = true;
      roots = {
        "/srv/work".mirrors.github = "git@github.com:me/{{path}}.git";
        "src".mirrors.backup = {
          url = "/mnt/backup/{{name}}.git";
          refs = [ "refs/heads/*" ];
        };
      };
      mirrors.nas = "/mnt/nas/{{name}}.git";
    } // extra;
  };
  hmRoots = hmRootsConfig { };
  hmRootsToml = builtins.fromTOML ''
    [mirrors.nas]
    url = "/mnt/nas/{{name}}.git"

    [roots."/srv/work".mirrors.github]
    url = "git@github.com:me/{{path}}.git"

    [roots."/home/alice/src".mirrors.backup]
    url = "/mnt/backup/{{name}}.git"
    refs = ["refs/heads/*"]
  '';
  xdgFile = config: config.xdg.configFile."git-repo-sync/config.toml".source.value;

  cases = {
    nixos-import-alone-installs-nothing = nixosBare.environment.systemPackages == [ ];
    nixos-import-alone-starts-nothing = nixosBare.systemd.services == { } && nixosBare.systemd.timers == { };
    nixos-enable-x86_64-linux-package =
      names (evalNixos "x86_64-linux" { programs.git-repo-sync.enable = true; }).environment.systemPackages
      == [ "git-repo-sync-for-x86_64-linux" ];
    nixos-enable-aarch64-linux-package =
      names (evalNixos "aarch64-linux" { programs.git-repo-sync.enable = true; }).environment.systemPackages
      == [ "git-repo-sync-for-aarch64-linux" ];
    nixos-package-option-honoured =
      names
        (evalNixos "x86_64-linux" {
          programs.git-repo-sync = {
            enable = true;
            package = custom;
          };
        }).environment.systemPackages == [ "my-own-git-repo-sync" ];
    nixos-repositories-enable-package = names nixosServer.environment.systemPackages == [ "git-repo-sync-for-x86_64-linux" ];
    nixos-repositories-oneshot-unit =
      nixosUnit.serviceConfig.Type == "oneshot" && builtins.elem "multi-user.target" nixosUnit.wantedBy;
    nixos-repositories-writes-config =
      has "${expectedFile "x86_64-linux"} \"$common/repo-sync.toml\"" nixosUnit.script
      && has "repo=/srv/git/project.git" nixosUnit.script;
    nixos-repositories-installs-hooks =
      has "/bin/git-repo-sync install --yes --hook-binary /run/current-system/sw/bin/git-repo-sync \"$repo\"" nixosUnit.script;
    nixos-repositories-run-as-owner = has "runuser -u" nixosUnit.script;
    nixos-repositories-no-warning = nixosServer.warnings == [ ] && builtins.all (a: a.assertion) nixosServer.assertions;
    nixos-relative-path-rejected =
      !(builtins.all (a: a.assertion)
        (evalNixos "x86_64-linux" { services.git-repo-sync.repositories."srv/x".mirrors.a = "/x"; }).assertions);
    nixos-enable-false-warns =
      (evalNixos "x86_64-linux" {
        services.git-repo-sync.repositories = serverRepos;
        programs.git-repo-sync.enable = false;
      }).warnings != [ ];

    nixos-repositories-install-with-owner-home =
      has "asUser \"$(stat -c %U \"$repo\")\" ${(fakeSelf.packages.x86_64-linux.default)}/bin/git-repo-sync install --yes" nixosUnit.script
      && has "runuser -u \"$user\" -- env HOME=\"$home\" \"$@\"" nixosUnit.script
      && has "getent passwd \"$user\"" nixosUnit.script;
    nixos-schedule-timer-default-interval =
      nixosTimer.timerConfig.OnUnitActiveSec == "5min" && builtins.elem "timers.target" nixosTimer.wantedBy;
    nixos-schedule-timer-interval =
      nixosEvery15.systemd.timers.git-repo-sync-sync.timerConfig.OnUnitActiveSec == "15min"
      && nixosEvery15.services.git-repo-sync.schedule.interval == 15;
    nixos-schedule-oneshot-service = nixosSyncUnit.serviceConfig.Type == "oneshot";
    nixos-schedule-syncs-all-as-each-owner =
      has "asUser \"$owner\" /run/current-system/sw/bin/git-repo-sync sync --all --quiet" nixosSyncUnit.script
      && has "runuser -u \"$user\" -- env HOME=\"$home\" \"$@\"" nixosSyncUnit.script
      && has "stat -c %U \"$path\"" nixosSyncUnit.script
      && has "sort -u" nixosSyncUnit.script
      && !(has "printf" nixosSyncUnit.script);
    nixos-schedule-owners-of-every-repository =
      has "for path in /srv/git/notes.git /srv/git/project.git; do"
        nixosTwoRepos.systemd.services.git-repo-sync-sync.script;
    nixos-schedule-git-on-path = builtins.elem "git" (names nixosSyncUnit.path);
    nixos-schedule-disabled = noSync nixosNoSchedule && nixosNoSchedule.systemd.services ? git-repo-sync-repositories;
    nixos-schedule-none-without-repositories =
      noSync nixosBare && noSync (evalNixos "x86_64-linux" { programs.git-repo-sync.enable = true; });
    nixos-schedule-enabled-without-repositories-warns =
      noSync nixosScheduleWithoutRepositories && nixosScheduleWithoutRepositories.warnings != [ ];
    nixos-schedule-interval-positive =
      rejects (evalNixos "x86_64-linux" { services.git-repo-sync.schedule.interval = 0; }).services.git-repo-sync.schedule.interval;

    nixos-metrics-off-by-default =
      !nixosServer.services.git-repo-sync.metrics.enable
      && nodeExporter nixosServer == { enable = false; enabledCollectors = [ ]; extraFlags = [ ]; }
      && nixosServer.systemd.tmpfiles.rules == [ ]
      && !(has "--textfile-dir" nixosSyncUnit.script)
      && !(has "setfacl" nixosSyncUnit.script);
    nixos-metrics-wire-the-node-exporters-textfile-collector =
      (nodeExporter nixosMetricsOn).enabledCollectors == [ "textfile" ]
      && (nodeExporter nixosMetricsOn).extraFlags == [ "--collector.textfile.directory=/var/lib/prometheus-node-exporter-text-files" ]
      && nixosMetricsOn.warnings == [ ];
    nixos-metrics-directory-made-root-s-and-readable =
      nixosMetricsOn.systemd.tmpfiles.rules == [ "d /var/lib/prometheus-node-exporter-text-files 0755 root root - -" ];
    nixos-metrics-each-owner-writes-there =
      metricsWritten "/var/lib/prometheus-node-exporter-text-files" nixosMetricsOn
      && builtins.elem "acl" (names nixosMetricsOn.systemd.services.git-repo-sync-sync.path);
    nixos-metrics-textfile-dir-option =
      let config = nixosMetrics { textfileDir = "/srv/textfiles"; }; in
      (nodeExporter config).extraFlags == [ "--collector.textfile.directory=/srv/textfiles" ]
      && metricsWritten "/srv/textfiles" config
      && builtins.elem "d /srv/textfiles 0755 root root - -" config.systemd.tmpfiles.rules;
    nixos-metrics-relative-dir-rejected =
      rejects (nixosMetrics { textfileDir = "textfiles"; }).services.git-repo-sync.metrics.textfileDir
      && rejects (nixosMetrics { textfileDir = "/srv/node exporter"; }).services.git-repo-sync.metrics.textfileDir;
    nixos-metrics-without-node-exporter-warns =
      (evalNixos "x86_64-linux" {
        services.git-repo-sync = {
          repositories = serverRepos;
          metrics.enable = true;
        };
      }).warnings != [ ];
    nixos-metrics-without-schedule-warns =
      (nixosMetrics { }).warnings == [ ]
      && (evalNixos "x86_64-linux" {
        services.git-repo-sync.metrics.enable = true;
        services.prometheus.exporters.node.enable = true;
      }).warnings != [ ];

    nixos-roots-write-system-config = etcFile nixosRoots == serverRootsToml;
    nixos-roots-system-config-is-the-only-file =
      builtins.attrNames nixosRoots.environment.etc == [ "git-repo-sync/config.toml" ]
      && builtins.attrNames (etcFile nixosRoots) == [ "roots" ];
    nixos-roots-nulls-left-out =
      builtins.attrNames (etcFile nixosRoots).roots."/srv/forge".mirrors.nas == [ "prune" "retries" "timeout" "url" ];
    nixos-roots-issue-example =
      etcFile (evalNixos "x86_64-linux" { services.git-repo-sync.roots."/srv/git".mirrors.github = "git@github.com:org/{{name}}.git"; })
      == builtins.fromTOML ''
        [roots."/srv/git".mirrors.github]
        url = "git@github.com:org/{{name}}.git"
      '';
    nixos-roots-with-repositories-same-file = etcFile nixosRootsAndRepos == serverRootsToml;
    nixos-no-system-config-without-roots = nixosBare.environment.etc == { } && nixosServer.environment.etc == { };
    nixos-roots-enable-package = names nixosRoots.environment.systemPackages == [ "git-repo-sync-for-x86_64-linux" ];
    nixos-roots-no-hooks-installed = !(nixosRoots.systemd.services ? git-repo-sync-repositories);
    nixos-roots-assertions-hold = allHold nixosRoots && nixosRoots.warnings == [ ];
    nixos-roots-schedule-on = nixosRoots.services.git-repo-sync.schedule.enable
      && nixosRoots.systemd.timers.git-repo-sync-sync.timerConfig.OnUnitActiveSec == "5min";
    nixos-roots-schedule-as-directory-owner-or-user =
      has "for path in /srv/git; do" nixosRootsSync.script
      && has "stat -c %U \"$path\"" nixosRootsSync.script
      && has "printf '%s\\n' forgejo" nixosRootsSync.script
      && has "asUser \"$owner\" /run/current-system/sw/bin/git-repo-sync sync --all --quiet" nixosRootsSync.script;
    nixos-roots-schedule-user-only =
      let script = nixosRootsOnlyWithUser.systemd.services.git-repo-sync-sync.script; in
      has "printf '%s\\n' forgejo" script && !(has "stat -c" script);
    nixos-roots-and-repositories-schedule-owners =
      has "for path in /srv/git/project.git /srv/git; do" nixosRootsAndRepos.systemd.services.git-repo-sync-sync.script
      && has "printf '%s\\n' forgejo" nixosRootsAndRepos.systemd.services.git-repo-sync-sync.script;
    nixos-roots-schedule-disabled = noSync (evalNixos "x86_64-linux" {
      services.git-repo-sync = {
        roots = serverRoots;
        schedule.enable = false;
      };
    });
    nixos-relative-root-rejected =
      !allHold (evalNixos "x86_64-linux" { services.git-repo-sync.roots."srv/git".mirrors.a = "/x/{{name}}.git"; });
    nixos-root-bad-mirror-name-rejected =
      !allHold (evalNixos "x86_64-linux" { services.git-repo-sync.roots."/srv/git".mirrors."a b" = "/x/{{name}}.git"; });
    nixos-root-user-checked =
      rejects (evalNixos "x86_64-linux" { services.git-repo-sync.roots."/srv/git".user = "a:b"; }).systemd.services
      && !rejects (evalNixos "x86_64-linux" { services.git-repo-sync.roots."/srv/git".user = "git"; }).systemd.services;
    nixos-root-mirror-keys-checked =
      rejects (etcFile (evalNixos "x86_64-linux" { services.git-repo-sync.roots."/srv/git".mirrors.a = { url = "/x"; retries = 21; }; }))
      && rejects (etcFile (evalNixos "x86_64-linux" { services.git-repo-sync.roots."/srv/git".mirrors.a = { url = "/x"; identity_file = "key"; }; }));
    nixos-root-ssh-keep-open-written-and-checked =
      (etcFile (evalNixos "x86_64-linux" { services.git-repo-sync.roots."/srv/git".mirrors.a = { url = "git@host:{{name}}.git"; ssh_keep_open = 0; }; })).roots."/srv/git".mirrors.a.ssh_keep_open == 0
      && rejects (etcFile (evalNixos "x86_64-linux" { services.git-repo-sync.roots."/srv/git".mirrors.a = { url = "git@host:{{name}}.git"; ssh_keep_open = 3601; }; }));
    nixos-roots-enable-false-warns =
      (evalNixos "x86_64-linux" {
        services.git-repo-sync.roots = serverRoots;
        programs.git-repo-sync.enable = false;
      }).warnings != [ ];

    hm-import-alone-installs-nothing = hmBare.home.packages == [ ] && hmBare.home.activation == { };
    hm-enable-x86_64-linux-package =
      names (evalHm "x86_64-linux" { programs.git-repo-sync.enable = true; }).home.packages
      == [ "git-repo-sync-for-x86_64-linux" ];
    hm-enable-aarch64-darwin-package = names hmRepos.home.packages == [ "git-repo-sync-for-aarch64-darwin" ];
    hm-enable-without-repositories-no-activation =
      (evalHm "x86_64-linux" { programs.git-repo-sync.enable = true; }).home.activation == { };
    hm-package-option-honoured =
      names
        (evalHm "x86_64-linux" {
          programs.git-repo-sync = {
            enable = true;
            package = custom;
          };
        }).home.packages == [ "my-own-git-repo-sync" ];
    hm-repositories-after-write-boundary = builtins.elem "writeBoundary" hmEntry.after;
    hm-repositories-writes-config =
      has "run  install -m 0644 ${expectedFile "aarch64-darwin"} \"$common/repo-sync.toml\"" hmEntry.data
      && has "repo=/home/alice/src/project" hmEntry.data;
    hm-repositories-installs-hooks-to-profile =
      has "install --yes --hook-binary /home/alice/.nix-profile/bin/git-repo-sync \"$repo\"" hmEntry.data;
    hm-repositories-need-enable =
      (evalHm "x86_64-linux" { programs.git-repo-sync.repositories = serverRepos; }).home.activation == { };

    hm-schedule-timer-default-interval =
      hmTimer.Timer.OnUnitActiveSec == "5min" && hmTimer.Install.WantedBy == [ "timers.target" ];
    hm-schedule-timer-interval =
      hmEvery30.systemd.user.timers.git-repo-sync.Timer.OnUnitActiveSec == "30min"
      && hmEvery30.programs.git-repo-sync.schedule.interval == 30;
    hm-schedule-service-syncs-all-from-profile =
      hmService.Service.Type == "oneshot"
      && hmService.Service.ExecStart == "/home/alice/.nix-profile/bin/git-repo-sync sync --all --quiet";
    hm-schedule-no-assertion = builtins.all (a: a.assertion) hmScheduled.assertions;
    hm-schedule-disabled = hmNoSync (hmLinux { schedule.enable = false; });
    hm-schedule-none-without-repositories =
      hmNoSync (evalHm "x86_64-linux" { programs.git-repo-sync.enable = true; }) && hmNoSync hmBare;
    hm-schedule-needs-enable =
      hmNoSync (evalHm "x86_64-linux" { programs.git-repo-sync.repositories = serverRepos; });
    hm-schedule-not-on-darwin-by-default = hmNoSync hmRepos;
    hm-roots-write-user-config = xdgFile hmRoots == hmRootsToml;
    hm-roots-relative-to-home = (xdgFile hmRoots).roots ? "/home/alice/src";
    hm-roots-only-the-user-config = builtins.attrNames hmRoots.xdg.configFile == [ "git-repo-sync/config.toml" ];
    hm-mirrors-alone =
      xdgFile
        (evalHm "x86_64-linux" {
          programs.git-repo-sync = {
            enable = true;
            mirrors.nas.url = "/mnt/nas/{{name}}.git";
          };
        }) == builtins.fromTOML ''
        [mirrors.nas]
        url = "/mnt/nas/{{name}}.git"
      '';
    hm-roots-alone =
      builtins.attrNames
        (xdgFile (evalHm "x86_64-linux" {
          programs.git-repo-sync = {
            enable = true;
            roots."/srv/work".mirrors.a = "/m/{{path}}.git";
          };
        })) == [ "roots" ];
    hm-no-user-config-without-roots-or-mirrors = hmScheduled.xdg.configFile == { } && hmBare.xdg.configFile == { };
    hm-roots-need-enable =
      (evalHm "x86_64-linux" { programs.git-repo-sync.roots."/srv/work".mirrors.a = "/m/{{name}}.git"; }).xdg.configFile == { };
    hm-roots-schedule-on-linux =
      hmRoots.systemd.user.services.git-repo-sync.Service.ExecStart == "/home/alice/.nix-profile/bin/git-repo-sync sync --all --quiet"
      && hmRoots.systemd.user.timers.git-repo-sync.Timer.OnUnitActiveSec == "5min";
    hm-roots-schedule-finds-the-config =
      hmRoots.systemd.user.services.git-repo-sync.Service.Environment == [ "XDG_CONFIG_HOME=/home/alice/.config" ]
      && !(hmService.Service ? Environment);
    hm-roots-no-activation = hmRoots.home.activation == { };
    hm-roots-assertions-hold = allHold hmRoots;
    hm-root-bad-mirror-name-rejected =
      !allHold (hmRootsConfig { mirrors."x/y" = "/m/{{name}}.git"; });
    hm-roots-not-on-darwin-by-default =
      hmNoSync (evalHm "aarch64-darwin" {
        programs.git-repo-sync = {
          enable = true;
          roots."/srv/work".mirrors.a = "/m/{{name}}.git";
        };
      });
    hm-schedule-on-darwin-asserts =
      !(builtins.all (a: a.assertion)
        (evalHm "aarch64-darwin" {
          programs.git-repo-sync = {
            enable = true;
            schedule.enable = true;
          };
        }).assertions);
  };

  selected = lib.filterAttrs (name: _: lib.hasPrefix only name) cases;
  failed = builtins.attrNames (lib.filterAttrs (_: ok: !ok) selected);
  count = builtins.length (builtins.attrNames selected);
in
if failed == [ ] then
  "module-eval${lib.optionalString (only != "") " (${only})"}: ${toString count} passed, 0 failed"
else
  throw "module-eval: ${toString (count - builtins.length failed)} passed, ${toString (builtins.length failed)} failed: ${lib.concatStringsSep ", " failed}"
