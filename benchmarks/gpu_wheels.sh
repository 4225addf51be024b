#!/usr/bin/env bash
# Here (a machine with PyPI): download the wheels that the lent GPU machine's image lacks into .whl/ (git-ignored
# through .git/info/exclude), for benchmarks/gpu_session.sh. Versions follow this checkout's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
ver() { .venv/bin/python -c "import importlib.metadata as m; print(m.version('$1'))"; }
rm -rf .whl && mkdir .whl
for pkg in pydantic pydantic_core annotated-types typing-inspection typing_extensions pyfaidx; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d .whl "$pkg==$(ver "$pkg")"
done
ls -l .whl
