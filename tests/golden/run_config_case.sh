#!/usr/bin/env bash
# Golden config case: `plantfloor check` on CASE/plant.toml must exit with CASE/expected_rc (default 2)
# and print exactly CASE/expected.txt on stderr. Run from the case folder so messages name plant.toml.
set -u
bin=$1 case=$2
cd "$case" || exit 1
want_rc=2; [ -f expected_rc ] && want_rc=$(cat expected_rc)
env_file=env; [ -f "$env_file" ] && set -a && . "./$env_file" && set +a
got=$("$bin" check --config plant.toml 2>&1 >/dev/null); rc=$?
want=$(cat expected.txt)
if [ "$rc" != "$want_rc" ]; then echo "exit code $rc, expected $want_rc; output: $got"; exit 1; fi
if [ "$got" != "$want" ]; then printf 'stderr differs\n--- expected\n%s\n--- got\n%s\n' "$want" "$got"; exit 1; fi
echo "ok: $(basename "$case")"
