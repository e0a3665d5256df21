#!/usr/bin/env bash
# photon-sim's tokenizer.json / vocab.json + merges.txt readers give the same
# ids as Hugging Face's `tokenizers` library on a multilingual corpus, for
# GPT-2, a GPT-NeoX-style and a Llama-3-style tokenizer built by that library
# and one that uses every option (tests/hf_tokenizer_check.py); unsupported
# models are refused with one clear line.  Skips (77) without the test venv.
set -u
BIN=${PHOTON_SIM:?PHOTON_SIM not set}
SRC=${PHOTON_SOURCE_DIR:?PHOTON_SOURCE_DIR not set}
export PYTHONDONTWRITEBYTECODE=1
PY=${PHOTON_VENV_PYTHON:-$(bash "$SRC/tools/pyenv.sh" --no-install)} || exit 77
"$PY" -c "import tokenizers" 2>/dev/null || { echo "tokenizers not installed: skipped"; exit 77; }
exec "$PY" "$SRC/tests/hf_tokenizer_check.py" "$BIN" "$SRC" --docs 60
