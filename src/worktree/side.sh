# git-repo-sync up/down: one side of a work tree copy. Run as
#   sh -c "$(cat side.sh)" git-repo-sync VERB DIR FORMAT [ARGS...]
# where DIR is the work tree and its private git dir is DIR/.git-repo-sync (or GIT_REPO_SYNC_GIT_DIR).
# Needs only sh and git. Every path goes through git's own NUL-separated pipes, never the shell.
#   snapshot               snapshot DIR and print the new snapshot's id
#   offer LAST             snapshot DIR, print "new OID", then a pack of it thin against LAST
#   apply NEW MODE [KEPT]  read a pack from stdin, then make DIR hold NEW (MODE: safe, force,
#                          create-only), under a lock; print "applied" or "conflict PATH" lines.
#                          KEPT: the last snapshot's tree without the files the other side now
#                          ignores, which stay here as they are, no longer ours
#   confirm NEW            record NEW as the state both sides share
# Exit: 0 done, 3 conflicts (nothing written), 4 busy, 5 the base of the pack is missing here.
set -u
verb=$1 dir=$2 format=$3
shift 3
case $dir in /*) ;; *) dir=$HOME/$dir ;; esac
private=${GIT_REPO_SYNC_GIT_DIR:-$dir/.git-repo-sync}
unset GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_NAMESPACE GIT_CONFIG_PARAMETERS
GIT_DIR=$private GIT_WORK_TREE=$dir LC_ALL=C
GIT_AUTHOR_NAME=git-repo-sync GIT_AUTHOR_EMAIL=git-repo-sync@localhost
GIT_COMMITTER_NAME=git-repo-sync GIT_COMMITTER_EMAIL=git-repo-sync@localhost
export GIT_DIR GIT_WORK_TREE LC_ALL GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
fail() { echo "error $*"; exit 1; }
# Bytes as they are on disk: no eol conversion, no filter, whatever the tree's attributes say.
g() { git -c core.autocrlf=false -c core.safecrlf=false -c core.symlinks=true -c core.fileMode=true \
  -c core.quotePath=true -c advice.addEmbeddedRepo=false -c gc.auto=0 "$@"; }

# Makes DIR and our git dir, and takes the lock for this run.
prepare() {
  mkdir -p "$dir" "$private" || fail "cannot create $private"
  lock
  if [ ! -f "$private/HEAD" ]; then
    (unset GIT_WORK_TREE && git init -q --object-format="$format") >/dev/null || fail "cannot create $private"
  fi
  mkdir -p "$private/info"
  printf '* -text -filter -ident -diff !eol !working-tree-encoding\n' >"$private/info/attributes"
  [ -n "${GIT_REPO_SYNC_EXCLUDE:-}" ] || printf '/.git-repo-sync/\n' >"$private/info/exclude"
}

lock() {
  if ! mkdir "$private/lock" 2>/dev/null; then
    holder=$(cat "$private/lock/pid" 2>/dev/null)
    # No pid yet: the holder is between its mkdir and its echo.
    if [ -z "$holder" ] || kill -0 "$holder" 2>/dev/null; then
      echo "busy $holder"; exit 4
    fi
    # Left by a run that was killed: ours to take over.
    rm -rf "$private/lock" && mkdir "$private/lock" 2>/dev/null || { echo "busy"; exit 4; }
  fi
  echo $$ >"$private/lock/pid"
  trap 'rm -rf "$private/lock"' EXIT
  trap 'exit 1' HUP INT TERM PIPE
}

empty_tree() { g hash-object -t tree /dev/null; }
last() { g rev-parse -q --verify 'refs/repo-sync/last^{commit}' 2>/dev/null; }

# The files this side has, as git sees them (every .gitignore, info/exclude), in a tree.
snapshot() {
  # A file ignored since the last snapshot is no longer one of ours (`add -A` would keep it).
  GIT_INDEX_FILE=$private/snapshot-index g ls-files -z -c -i --exclude-standard |
    GIT_INDEX_FILE=$private/snapshot-index g update-index -z --force-remove --stdin
  # Every new blob streamed into one pack, not a file each (slow to create on a busy disk).
  GIT_INDEX_FILE=$private/snapshot-index g -c core.bigFileThreshold=1 add -A -- . >/dev/null 2>&1 ||
    GIT_INDEX_FILE=$private/snapshot-index g add -A -- . >&2 || fail "snapshot of $dir failed"
  tree=$(GIT_INDEX_FILE=$private/snapshot-index g write-tree) || fail "writing the snapshot's tree"
  if parent=$(last); then
    # Nothing changed: the same snapshot, and nothing new to send.
    [ "$(g rev-parse "$parent^{tree}")" = "$tree" ] && { echo "$parent"; return; }
    set -- -p "$parent"
  else
    set --
  fi
  g commit-tree "$tree" "$@" -m "git-repo-sync snapshot of $dir" || fail "writing the snapshot"
}

offer() {
  base=$1
  prepare
  new=$(snapshot) || exit 1
  echo "new $new"
  g update-ref refs/repo-sync/offered "$new"
  if [ "$base" != none ] && g cat-file -e "$base^{commit}" 2>/dev/null; then
    printf '%s\n^%s\n' "$new" "$base" | g pack-objects --revs --thin --stdout -q
  else
    printf '%s\n' "$new" | g pack-objects --revs --stdout -q
  fi
}

apply() {
  new=$1 mode=$2 kept=${3:-}
  prepare
  # A snapshot stored already (by the caller, or by a run killed after it) needs no pack.
  if ! g cat-file -e "$new^{commit}" 2>/dev/null; then
    g index-pack --stdin --fix-thin >/dev/null 2>"$private/index-pack.err" || {
      if grep -q -e 'bad object' -e 'unresolved delta' -e 'missing' "$private/index-pack.err"; then
        echo "need $(last || echo none)"; exit 5
      fi
      fail "storing the pack: $(head -n 3 "$private/index-pack.err")"
    }
  fi
  g cat-file -e "$new^{commit}" || { echo "need $(last || echo none)"; exit 5; }
  if before=$(last); then base=$(g rev-parse "$before^{tree}"); else base=$(empty_tree); fi
  if [ -n "$kept" ] && [ -f "$private/index" ] && g cat-file -e "$kept^{tree}" 2>/dev/null; then
    # Files the other side now ignores: no longer ours, so left here as they are.
    g diff-tree -z -r --name-only --diff-filter=D "$base" "$kept" | g update-index -z --force-remove --stdin
    base=$kept
  fi
  target=$(g rev-parse "$new^{tree}")
  # What this side holds now of the files it was last given, and of those about to be created.
  [ -f "$private/index" ] && cp "$private/index" "$private/now-index" || rm -f "$private/now-index"
  GIT_INDEX_FILE=$private/now-index g add -u -- . 2>/dev/null
  g diff-tree -z -r --name-only --diff-filter=A "$base" "$target" |
    GIT_INDEX_FILE=$private/now-index g update-index -z --add --remove --stdin 2>/dev/null
  now=$(GIT_INDEX_FILE=$private/now-index g write-tree)
  rm -f "$private/now-index"
  if [ "$now" = "$base" ] && [ "$target" = "$base" ]; then
    : # Nothing to write, nothing changed here.
  elif [ "$now" = "$base" ]; then
    # Nothing changed here since: git's two-tree merge writes only what differs (several files
    # at once), and refuses before writing anything if a file is in the way after all.
    [ -f "$private/index" ] || g read-tree "$base"
    g -c checkout.workers=0 read-tree -m -u "$base" "$target" 2>"$private/git.err" ||
      fail "updating $dir failed, nothing written: $(tail -n 2 "$private/git.err" | tr '\n' ' ')"
  else
    # Changed here since, and not already what is coming (a run killed half-way left those).
    changed=$private/changed.$$ differ=$private/differ.$$
    g diff-tree -r --name-only "$base" "$now" | sort >"$changed"
    g diff-tree -r --name-only "$target" "$now" | sort >"$differ"
    comm -12 "$changed" "$differ" >"$private/conflicts"
    rm -f "$changed" "$differ"
    if [ -s "$private/conflicts" ] && [ "$mode" = safe ]; then
      sed 's/^/conflict /' "$private/conflicts"; exit 3
    fi
    if [ "$mode" = create-only ]; then
      # Only what is missing here is created; what is here stays as it is.
      GIT_INDEX_FILE=$private/new-index g read-tree "$target" &&
        GIT_INDEX_FILE=$private/new-index g checkout-index -a -q 2>/dev/null
      rm -f "$private/new-index"
      g read-tree "$target" && g update-index -q --refresh >/dev/null
    else
      sed 's/^/replaced /' "$private/conflicts"
      g -c checkout.workers=0 read-tree --reset -u "$target" >&2 || fail "updating $dir failed"
    fi
  fi
  g update-ref refs/repo-sync/last "$new" || fail "recording the state"
  echo applied
}

snapshot_only() {
  prepare
  new=$(snapshot) || exit 1
  g update-ref refs/repo-sync/offered "$new"
  echo "$new"
}

confirm() {
  new=$1
  prepare
  g update-ref refs/repo-sync/last "$new" || fail "recording the state"
  if [ "$(GIT_INDEX_FILE=$private/snapshot-index g write-tree)" = "$(g rev-parse "$new^{tree}")" ]; then
    cp "$private/snapshot-index" "$private/index"
  else
    g read-tree "$new" && g update-index -q --refresh >/dev/null
  fi
  echo confirmed
}

case $verb in
  snapshot) snapshot_only ;;
  offer | apply | confirm) "$verb" "$@" ;;
  *) fail "unknown verb $verb" ;;
esac
