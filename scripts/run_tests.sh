#!/usr/bin/env bash
# Run the whole suite (unit tests and notebooks) with the venv in $1. pytest exits 5 when it
# collects no test; that is a failure here, never a pass.
set -uo pipefail
bin="$1"; shift || true
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export NASBOOK_NB201="${NASBOOK_NB201:-$(cd .. && pwd)/shared/data/nasbench201}"
export MPLBACKEND=Agg
# Two workers on two cores, one thread each: many small tests parallelise better than torch's
# intra-op threads, and oversubscribed OpenMP threads spin.
export OMP_NUM_THREADS=1
# NASBOOK_TEST_PATHS picks what to collect (tests/test_course.py points it at a broken notebook
# to prove that this runner fails).
"$bin/python" -m pytest -q -p no:cacheprovider -n 2 --durations=20 \
  --nbmake --nbmake-timeout=300 ${NASBOOK_TEST_PATHS:-tests notebooks} "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "run_tests: pytest collected no tests: failing" >&2; exit 1; fi
exit $rc
