#!/usr/bin/env bash
# One command per use: `bash run.sh app` installs everything and starts the dashboard;
# `bash run.sh test` installs everything (Chromium, the RTSP test server, PostgreSQL and mosquitto included, when
# root) and runs the tests.
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

rtsp() {  # the live tests' RTSP server: GStreamer's, run by the system Python (tests/helpers/rtsp_server.py)
  if ! /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq gir1.2-gst-rtsp-server-1.0 python3-gi \
      gstreamer1.0-plugins-good gstreamer1.0-plugins-bad >/dev/null) || echo "could not install the RTSP server" >&2
  fi
}

servers() {  # the event store's tests: a real PostgreSQL server and MQTT broker (tests/helpers/servers.py)
  if { ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! command -v mosquitto >/dev/null; } \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq postgresql mosquitto >/dev/null) \
      || echo "could not install postgresql and mosquitto" >&2
  fi
}

case "${1:-}" in
  app) setup; exec .venv/bin/streamlit run app/main.py "${@:2}" ;;
  test) setup; browser; rtsp; servers; exec .venv/bin/python -m pytest "${@:2}" ;;
  setup) setup ;;
  *) echo "usage: bash run.sh {app|test|setup} [extra args]" >&2; exit 2 ;;
esac
