{
  description = "git-repo-sync: keeps mirrors of git repositories up to date by itself, from git hooks";

  # The only input: everything else comes from nixpkgs, so a user's
  # `inputs.git-repo-sync.inputs.nixpkgs.follows = "nixpkgs";` is all it takes.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: {
        git-repo-sync = pkgs.callPackage ./nix/package.nix { };
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.git-repo-sync;
      });

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = lib.getExe self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          meta.description = "Run git-repo-sync";
        };
      });

      # `pkgs.git-repo-sync`, built with the nixpkgs the overlay is applied to.
      overlays.default = final: _prev: {
        git-repo-sync = final.callPackage ./nix/package.nix { };
      };

      nixosModules.default = import ./nix/nixos-module.nix self;
      homeManagerModules.default = import ./nix/home-manager-module.nix self;

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.default ];
          packages = with pkgs; [
            cargo
            rustc
            clippy
            rustfmt
            rust-analyzer
            git
            # sshd for the SSH transport tests.
            openssh
            # The Nix formatter and linter that .ci/nix-check runs.
            nixpkgs-fmt
            deadnix
          ]
          # The web server the HTTP(S) transport tests put `git http-backend` behind.
          ++ lib.optionals pkgs.stdenv.hostPlatform.isLinux [ pkgs.lighttpd ];
          RUST_SRC_PATH = "${pkgs.rustPlatform.rustLibSrc}";
        };
      });

      formatter = forAllSystems (pkgs: pkgs.nixpkgs-fmt);

      checks = forAllSystems (
        pkgs:
        let
          package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          moduleEval =
            only:
            pkgs.runCommand "git-repo-sync-module-eval-${only}" { nativeBuildInputs = [ pkgs.nix ]; } ''
              export HOME=$TMPDIR
              nix-instantiate --eval --strict --readonly-mode --store dummy:// \
                --arg lib 'import ${nixpkgs}/lib' --argstr only ${only} \
                ${self}/tests/nix/module-eval.nix
              touch $out
            '';
        in
        {
          # Builds the crate and runs `cargo test` (see nix/package.nix for the
          # tests skipped in the sandbox).
          inherit package;

          clippy = package.overrideAttrs (old: {
            pname = "git-repo-sync-clippy";
            nativeBuildInputs = old.nativeBuildInputs ++ [ pkgs.clippy ];
            buildPhase = ''
              runHook preBuild
              cargo clippy --offline --all-targets -- -D warnings
              runHook postBuild
            '';
            doCheck = false;
            installPhase = "mkdir -p $out";
          });

          rustfmt =
            pkgs.runCommand "git-repo-sync-rustfmt"
              {
                nativeBuildInputs = [
                  pkgs.cargo
                  pkgs.rustfmt
                ];
              }
              ''
                cp -r ${package.src} source
                chmod -R u+w source
                cd source
                HOME=$TMPDIR cargo fmt --check
                touch $out
              '';

          # The NixOS and home-manager modules evaluated with this nixpkgs'
          # lib.evalModules (tests/nix/module-eval.nix; tests/nix/eval-modules.sh
          # runs the same file outside a build).
          nixos-module = moduleEval "nixos";
          home-manager-module = moduleEval "hm";
        }
      );
    };
}
