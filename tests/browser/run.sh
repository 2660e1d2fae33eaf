#!/usr/bin/env bash
# dagrad-explain's HTML page in a real browser: installs Debian's chromium and npm (when
# missing) and playwright-core from npm (into ~/.cache/dagrad/browser, once), builds dagrad,
# writes the pages of two programs (scalars; vectors and a matrix), and drives them in headless
# Chromium with tests/browser/explain_page.js: every value, adjoint and tangent the page shows
# after clicking through the passes must equal what the C++ printed. Also writes the
# screenshot docs/explain_page.png with --screenshot.
# Ends with "browser tests: N passed, M failed". Run by tests/run.sh (about 10 s once installed).
#   bash tests/browser/run.sh [--screenshot]
# Node and npm from Debian only when there are none (a machine may have them from elsewhere).
extra=(chromium)
command -v node >/dev/null || extra+=(nodejs)
command -v npm >/dev/null || extra+=(npm)
source "$(dirname "${BASH_SOURCE[0]}")/../../.ci/setup.sh" "${extra[@]}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/dagrad/browser"
if [ ! -f "$cache/node_modules/playwright-core/package.json" ]; then
  mkdir -p "$cache"
  (cd "$cache" && npm install --no-audit --no-fund --silent playwright-core@1.65.1 >/dev/null)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
explain="$DAGRAD_BUILD/tools/dagrad-explain"
shot="$work/shot.png"
[ "${1:-}" = "--screenshot" ] && shot="$DAGRAD_ROOT/docs/explain_page.png"
passed=0
failed=0
run_page() {  # run_page NAME PROGRAM AT SCREENSHOT
  "$explain" "$2" --at "$3" --html "$work/$1.html" > "$work/$1.txt"
  NODE_PATH="$cache/node_modules" node "$DAGRAD_ROOT/tests/browser/explain_page.js" \
    "$work/$1.html" "$work/$1.txt" "$4" > "$work/$1.log" 2>&1
  grep -v "^browser tests:" "$work/$1.log" || true
  line=$(grep -E "^browser tests: [0-9]+ passed, [0-9]+ failed" "$work/$1.log" || echo "browser tests: 0 passed, 1 failed")
  passed=$((passed + $(echo "$line" | sed -E 's/^browser tests: ([0-9]+) passed.*/\1/')))
  failed=$((failed + $(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')))
  echo "page $1: $line"
}
run_page homework \
  'f1 = exp(exp(w1)+exp(w2)) + sin(exp(w1)+exp(w2)); f2 = w1*w2 + sigmoid(w1)' 'w1=1,w2=2' "$shot"
run_page matrix 'f = x @ A @ x + sum(exp(x)); g = mean(A * x)' 'x=[1,2],A=[[1,2],[3,4]]' \
  "$work/matrix.png"
echo "browser tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
