"""A real RTSP server for the live tests: serves an H.264 MP4 clip in real time at rtsp://HOST:PORT/clip.

    /usr/bin/python3 tests/helpers/rtsp_server.py CLIP PORT        # prints "ready" once it listens

GStreamer's RTSP server from Debian's packages (gir1.2-gst-rtsp-server-1.0, python3-gi,
gstreamer1.0-plugins-good and -bad), so it runs under the system Python, not the venv. Each client gets
the clip from its first frame (the media is not shared), paced by the clip's own timestamps.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main(clip: str, port: int) -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = clip.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(f'( filesrc location="{location}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 )')
    factory.set_shared(False)
    server.get_mount_points().add_factory("/clip", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
