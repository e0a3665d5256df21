#!/usr/bin/env bash
# The Python environment of the tests that need packages from PyPI (Hugging
# Face transformers and tokenizers, tensorboard, ...): a virtual environment
# at $PHOTON_VENV (default <repo>/.venv) on top of Debian's python3, so the
# Debian packages setup.sh installs (torch, numpy, matplotlib) stay visible,
# with tools/requirements-test.txt installed.  Prints the environment's python
# on stdout.  tools/test.sh runs it before the suite; a test that needs it
# calls `tools/pyenv.sh --no-install` and skips (exit 77) when it says so.
#   tools/pyenv.sh [--no-install]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${PHOTON_VENV:-$root/.venv}
req=$root/tools/requirements-test.txt
want=$(sha256sum "$req" | cut -d' ' -f1)
stamp=$venv/.requirements.sha256
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "$venv/bin/python"
    exit 0
fi
if [ "${1:-}" = "--no-install" ]; then
    echo "pyenv.sh: the test environment $venv is missing or out of date: run tools/pyenv.sh" >&2
    exit 77
fi
base=/usr/bin/python3
[ -x "$base" ] || base=$(command -v python3)
echo "pyenv.sh: creating $venv (pip install -r tools/requirements-test.txt)" >&2
"$base" -m venv --system-site-packages "$venv" >&2 ||
    { echo "pyenv.sh: python3 -m venv failed: install the Debian package python3-venv" >&2; exit 1; }
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2 ||
    { echo "pyenv.sh: pip could not install tools/requirements-test.txt (is PyPI reachable?)" >&2; exit 1; }
echo "$want" > "$stamp"
echo "$venv/bin/python"
