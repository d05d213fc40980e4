"""A tiny RTSP server for tests: serves one video file at ``rtsp://127.0.0.1:PORT/live``.

Run it with the SYSTEM Python, which has GStreamer's RTSP server through PyGObject
(Debian: ``python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp
gstreamer1.0-plugins-base gstreamer1.0-plugins-good``; ``make rtsp-test-deps``)::

    /usr/bin/python3 tests/rtsp_server.py VIDEO PORT [--user USER --password PASSWORD]

Each client gets its own pipeline, from the video's first frame, at the video's own
frame rate, as RTP/JPEG over TCP (interleaved in the RTSP connection, so a killed server
is seen at once by the client). With ``--user``, the server asks for HTTP Basic
credentials. It prints ``ready`` when it listens and runs until killed.

``available()`` (importable from the tests' Python) says whether this can run here.
"""

import subprocess
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
PROBE = ("import gi; gi.require_version('Gst', '1.0'); "
         "gi.require_version('GstRtsp', '1.0'); "
         "gi.require_version('GstRtspServer', '1.0'); "
         "from gi.repository import Gst, GstRtsp, GstRtspServer; Gst.init(None); "
         "assert all(Gst.ElementFactory.find(e) for e in "
         "('decodebin', 'videoconvert', 'jpegenc', 'rtpjpegpay'))")


def available() -> str | None:
    """None if the server can run here, else why not (for a pytest skip)."""
    try:
        probe = subprocess.run([SYSTEM_PYTHON, "-c", PROBE], capture_output=True, text=True,
                               timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"no {SYSTEM_PYTHON} to run GStreamer's RTSP server: {error}"
    if probe.returncode:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return ("GStreamer's RTSP server is missing from the system Python (apt-get install "
                "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good, or "
                f"`make rtsp-test-deps`): {last}")
    return None


def main(argv: list[str]) -> None:
    import argparse

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

    parser = argparse.ArgumentParser()
    parser.add_argument("video")
    parser.add_argument("port")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args(argv)
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(args.port)
    factory = GstRtspServer.RTSPMediaFactory()
    location = args.video.replace("\\", "\\\\").replace('"', '\\"')
    # decoding and re-encoding keeps any input and gives clean RTP/JPEG frames
    factory.set_launch(f'( filesrc location="{location}" ! decodebin ! videoconvert ! '
                       "video/x-raw,format=I420 ! jpegenc ! rtpjpegpay name=pay0 pt=26 )")
    factory.set_shared(False)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role_from_structure(Gst.Structure.new_from_string(
            "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/live", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{args.port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main(sys.argv[1:])
