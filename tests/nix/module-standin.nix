# A STAND-IN for the NixOS module system, for tests/nix/wiring.nix, where no
# nixpkgs (so no lib.evalModules) is at hand: it evaluates a module once,
# not to a fixed point. Each option the module declares takes the value given,
# else its default; the module's config is then computed from those values,
# its mkMerge, mkIf and mkDefault taken apart, attribute sets merged and lists
# joined, as the real module system would for a single definition of each.
# What the module defines is not fed back into the options (its mkDefault of
# an option of its own is not seen by its conditions), and types are checked
# only where a case calls `type.check`. tests/nix/module-eval.nix is the full
# evaluation, with a real nixpkgs lib.
{ lib }:

let
  isOption = value: (value._type or null) == "option";
  type = name: check: { inherit name check; };

  moduleLib = lib // rec {
    mkOption = attrs: attrs // { _type = "option"; };
    mkEnableOption = name: mkOption {
      type = types.bool;
      default = false;
      description = "Whether to enable ${name}.";
    };
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkDefault = content: { _type = "override"; inherit content; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    types = {
      bool = type "bool" builtins.isBool;
      str = type "str" builtins.isString;
      anything = type "anything" (_: true);
      package = type "package" (value: value ? outPath);
      strMatching = regex: type "strMatching ${regex}" (value: builtins.isString value && builtins.match regex value != null);
      nullOr = inner: type "nullOr" (value: value == null || inner.check value);
      listOf = inner: type "listOf" (value: builtins.isList value && builtins.all inner.check value);
      # Their members are not checked here.
      attrsOf = _: type "attrsOf" builtins.isAttrs;
      submodule = _: type "submodule" builtins.isAttrs;
      coercedTo = from: _: to: type "coercedTo" (value: from.check value || to.check value);
      passwdEntry = inner: type "passwdEntry" (value: inner.check value && builtins.match ".*[:\n].*" value == null);
      ints = {
        positive = type "positive" (value: builtins.isInt value && value > 0);
        between = low: high: type "between" (value: builtins.isInt value && value >= low && value <= high);
      };
    };
    concatStrings = builtins.concatStringsSep "";
    concatLists = builtins.concatLists;
    filter = builtins.filter;
    mapAttrs = builtins.mapAttrs;
    mapAttrsToList = f: set: map (name: f name set.${name}) (builtins.attrNames set);
    unique = builtins.foldl' (kept: x: if builtins.elem x kept then kept else kept ++ [ x ]) [ ];
    optionalAttrs = cond: set: if cond then set else { };
    # As nixpkgs: a word of safe characters stays as it is.
    escapeShellArg = arg:
      if builtins.match "[[:alnum:],._+:@%/-]+" arg != null then arg
      else "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] arg}'";
    escapeShellArgs = args: builtins.concatStringsSep " " (map escapeShellArg args);
  };

  # The value of each option of `options`: the one `given`, else its default.
  valuesOf = options: given:
    builtins.mapAttrs
      (name: option:
        if isOption option then (if given ? ${name} then given.${name} else option.default or null)
        else valuesOf option (given.${name} or { }))
      options;

  # `b` over `a`, attribute sets merged.
  update = a: b:
    if builtins.isAttrs a && builtins.isAttrs b && !(a ? outPath) && !(b ? outPath) then
      builtins.zipAttrsWith (_: values: if builtins.length values == 1 then builtins.head values else update (builtins.elemAt values 0) (builtins.elemAt values 1)) [ a b ]
    else b;

  merge = a: b:
    if builtins.isList a && builtins.isList b then a ++ b
    else if builtins.isAttrs a && builtins.isAttrs b && !(a ? outPath) && !(b ? outPath) then
      builtins.zipAttrsWith (_: values: if builtins.length values == 1 then builtins.head values else merge (builtins.elemAt values 0) (builtins.elemAt values 1)) [ a b ]
    else b;

  # A definition with its mkMerge, mkIf and mkDefault taken apart.
  resolve = definition:
    let kind = definition._type or null; in
    if kind == "merge" then builtins.foldl' merge { } (map resolve definition.contents)
    else if kind == "if" then (if definition.condition then resolve definition.content else { })
    else if kind == "override" then resolve definition.content
    else if builtins.isAttrs definition && !(definition ? outPath) then builtins.mapAttrs (_: resolve) definition
    else definition;
in
{
  inherit update;

  # `module` (a function of the module arguments) evaluated once with the
  # option values `given` (also those of options other modules declare) and
  # `pkgs`: its `options`, the `config` it was given, and what it `defines`.
  evalOnce = { module, given, pkgs }:
    let
      evaluated = module { inherit config pkgs; lib = moduleLib; };
      config = update given (valuesOf evaluated.options given);
    in
    {
      inherit (evaluated) options;
      inherit config;
      defines = resolve evaluated.config;
    };
}
