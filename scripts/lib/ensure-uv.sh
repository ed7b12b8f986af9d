# Sourced by scripts/run and scripts/test: make `uv` available, installing it from PyPI into the
# user's Python if it is missing.
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
