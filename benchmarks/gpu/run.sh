#!/usr/bin/env bash
# The GPU check in one call, from a copy of the working tree on a machine with a GPU:
# install skorch from the carried wheel, run the CUDA tests, then each part of
# benchmarks/gpu/gpu_check.py under its own time limit (at most 475 s in all), so
# one slow part cannot eat the rest. Everything goes to one folder:
#
#   bash benchmarks/gpu/run.sh [OUT_DIR]        # OUT_DIR defaults to $OUT
#
# Written there: run.log (all output), cuda_tests.txt (pytest -m cuda),
# measurements.jsonl (one line per measurement and per part's exit status),
# gpu_check.json / gpu_check.md (the report), cuda_model.pkl (a CUDA-trained model).
#
# The machine needs python3 with torch, scikit-learn, numpy, scipy and pytest, and
# the skorch wheel in .whl/ (ignored by git), downloaded beforehand with
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux2014_x86_64 -d .whl skorch==1.4.0
# Without .whl/ the skorch already installed is used. Environment: PYTHON (default
# python3); GPU_CHECK_ARGS, extra arguments of every gpu_check.py call, e.g.
# "--device cpu --quick" for a dry run of this script on a CPU.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$(pwd)
out=${1:-${OUT:?give an output folder or set OUT}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}
read -r -a extra <<< "${GPU_CHECK_ARGS:-}"
exec > >(tee -a "$out/run.log") 2>&1
tee_pid=$!

echo "run.sh: $(date -u +%FT%TZ), output in $out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true

site=$(mktemp -d)
if compgen -G ".whl/*.whl" > /dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target "$site" .whl/*.whl
fi
export PYTHONPATH="$root:$site${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
if ! "$python" -c "import skorch, sklearn_rmd; print('skorch', skorch.__version__)"; then
    echo "run.sh: skorch cannot be imported: download its wheel into .whl/ and carry it" >&2
    exit 1
fi

measurements="$out/measurements.jsonl"
: > "$measurements"
failed=()

# part NAME LIMIT_S LOG COMMAND...: run COMMAND under timeout, its output also to LOG,
# and append its exit status (124 or 137: stopped at the limit) to measurements.jsonl.
part() {
    local name=$1 limit=$2 log=$3 start=$SECONDS status
    shift 3
    echo "== $name (at most $limit s)"
    set +e
    timeout -k 10 "$limit" "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    set -e
    printf '{"part": "%s", "status": %d, "seconds": %d, "limit_s": %d}\n' \
        "$name" "$status" "$((SECONDS - start))" "$limit" >> "$measurements"
    if [ "$status" -ne 0 ]; then failed+=("$name:$status"); fi
}

check=(benchmarks/gpu/gpu_check.py --out "$out" ${extra[@]+"${extra[@]}"})
part tests 100 "$out/cuda_tests.txt" \
    "$python" -m pytest -m cuda -q -rfEs -p no:cacheprovider tests
part model 40 /dev/null "$python" "${check[@]}" --part model
part knn 60 /dev/null "$python" "${check[@]}" --part knn
part relation 30 /dev/null "$python" "${check[@]}" --part relation
part image 75 /dev/null "$python" "${check[@]}" --part image
part tabular 150 /dev/null "$python" "${check[@]}" --part tabular
part report 20 /dev/null "$python" "${check[@]}" --report

rm -rf "$site"
ls -l "$out"
if [ ${#failed[@]} -gt 0 ]; then
    echo "run.sh: parts that did not finish cleanly (part:status): ${failed[*]}"
fi
echo "run.sh: done in $SECONDS s"
exec >&- 2>&-
wait "$tee_pid" 2>/dev/null || true
[ ${#failed[@]} -eq 0 ]
