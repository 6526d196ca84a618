#!/bin/bash
# Reruns every `$ kemu ...` command shown in docs/tutorial/*.md (or the lessons
# given as arguments) against the build in $BUILD (default: build) and rewrites
# the output shown under it. Read the change (git diff docs/tutorial) before
# committing it: the output is what a reader learns from.
# The ctest test tutorial_output_matches_kemu fails when this is due.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
cd "$root"
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target kemu kemu_samples tutorial_sync >/dev/null
if [ $# -eq 0 ]; then set -- docs/tutorial; fi
"$build/tests/tutorial/tutorial_sync" update --kemu "$build/kemu" --source . --build "$build" "$@"
