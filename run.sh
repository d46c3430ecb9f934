#!/usr/bin/env bash
# One command per use: `bash run.sh app` installs everything and starts the dashboard;
# `bash run.sh test` installs everything (Chromium included, when root) and runs the test suite.
set -euo pipefail
cd "$(dirname "$0")"

setup() {
  local stamp=.venv/.installed
  [ -x .venv/bin/python ] || python3 -m venv .venv
  if [ ! -f "$stamp" ] || ! cmp -s "$stamp" <(cat requirements.txt requirements-dev.txt); then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -r requirements-dev.txt
    cat requirements.txt requirements-dev.txt > "$stamp"
  fi
}

browser() {
  if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "could not install chromium" >&2
  fi
}

case "${1:-}" in
  app) setup; exec .venv/bin/streamlit run app/main.py "${@:2}" ;;
  test) setup; browser; exec .venv/bin/python -m pytest "${@:2}" ;;
  setup) setup ;;
  *) echo "usage: bash run.sh {app|test|setup} [extra args]" >&2; exit 2 ;;
esac
