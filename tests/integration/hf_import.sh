#!/usr/bin/env bash
# import-hf and [run] init_from against transformers (tests/hf_import_check.py):
# F32/F16/BF16, sharded, GPT2Model and tied-lm_head directories import, export
# back bitwise and evaluate to transformers' loss; hostile directories and
# damaged safetensors headers give one clear error; a run started from the
# model scores at round 0 what the import scores.  Skips (77) without the test
# venv's transformers and safetensors.
set -u
BIN=${PHOTON_SIM:?PHOTON_SIM not set}
SRC=${PHOTON_SOURCE_DIR:?PHOTON_SOURCE_DIR not set}
export PYTHONDONTWRITEBYTECODE=1
PY=${PHOTON_VENV_PYTHON:-$(bash "$SRC/tools/pyenv.sh" --no-install)} || exit 77
"$PY" -c "import torch, transformers, safetensors" 2>/dev/null || { echo "torch/transformers/safetensors not installed: skipped"; exit 77; }
exec "$PY" "$SRC/tests/hf_import_check.py" "$BIN" "$SRC"
