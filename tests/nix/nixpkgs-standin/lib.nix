# Stand-in for the few nixpkgs `lib` functions the flake and package use,
# written from their documented behaviour (see flake.nix beside this file).
let
  filterAttrs = pred: set: builtins.listToAttrs (builtins.concatMap (name: if pred name set.${name} then [{ inherit name; value = set.${name}; }] else [ ]) (builtins.attrNames set));
  hasPrefix = prefix: str: builtins.substring 0 (builtins.stringLength prefix) str == prefix;
in
{
  inherit filterAttrs hasPrefix;
  genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
  importTOML = path: builtins.fromTOML (builtins.readFile path);
  removePrefix = prefix: str: if hasPrefix prefix str then builtins.substring (builtins.stringLength prefix) (-1) str else str;
  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  optionalString = cond: s: if cond then s else "";
  makeBinPath = drvs: builtins.concatStringsSep ":" (map (drv: "${drv}/bin") drvs);
  getExe = drv: "${drv}/bin/${drv.meta.mainProgram}";
  # Keeps the filter's contract (path as a string, type) but, unlike nixpkgs,
  # copies straight to the store instead of composing lazily.
  cleanSourceWith = { src, filter ? (_: _: true), name ? "source" }:
    builtins.path { path = src; inherit filter name; };
  cleanSource = src:
    builtins.path {
      path = src;
      name = "source";
      filter = path: _type: !(builtins.elem (baseNameOf path) [ ".git" "result" ]);
    };
  licenses = {
    mit = { spdxId = "MIT"; };
    asl20 = { spdxId = "Apache-2.0"; };
  };
  platforms.unix = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
}
