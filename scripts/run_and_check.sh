#!/usr/bin/env bash
# Run a 5-rank yasp cluster on 127.0.0.1 at low pressure, then at high pressure, and check the
# logs of each run: the original project's report, then our strict checks and figures.
# Exit 0 only if every check passes. Works from anywhere (cd scripts && bash ./run_and_check.sh).
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root" || exit 1
if [ ! -f dist/src/cli/cluster_cli.js ] || [ ! -f dist/checker/cli.js ]; then
  npm run build --silent || exit 1
fi
ranks=${YASP_RANKS:-5}
status=0

run_and_check() {
  local name=$1 title=$2
  shift 2
  rm -rf "logs/$name"
  if ! node dist/src/cli/cluster_cli.js -n "$ranks" --log-dir "logs/$name" --deadline 100 -- "$@" >"logs/$name.ranks.txt"; then
    echo "run_and_check: the $title run did not end cleanly (see logs/$name.ranks.txt)" >&2
    status=1
  fi
  node dist/checker/cli.js --title "$title" "logs/$name"/rank-*.log || status=1
}

# Low: each rank proposes 50 instances/s for 5 s. High: 2000/s each (40x), -l 1000 per round.
run_and_check low "low pressure" -o 100 -l 200 -t 5 --rate 50 --grace 30
run_and_check high "high pressure" -o 100 -l 1000 -t 5 --rate 2000 --grace 30

low=$(grep -c '^commit ' logs/low/rank-0.log 2>/dev/null || echo 0)
high=$(grep -c '^commit ' logs/high/rank-0.log 2>/dev/null || echo 0)
if [ "$low" -gt 0 ] && [ "$high" -ge $((10 * low)) ]; then
  echo "high/low pressure: $high / $low commits ($((high / low))x, at least 10x needed): pass"
else
  echo "high/low pressure: $high / $low commits (at least 10x needed): fail"
  status=1
fi
exit $status
