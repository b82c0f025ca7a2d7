"""A live stream for tests: `python -m tests.live_http_source MEDIA` serves
MEDIA over HTTP on a loopback port as MPEG-TS, paced at its own clock (as a
camera or an encoder would send it), to the first client that connects.

Prints `serving PORT` when listening and `sent SECONDS` (wall time since
the client connected, then the monotonic clock) when the stream has ended.
"""

import http.server
import sys
import time

import av


class _Chunked:
    """HTTP/1.1 chunked transfer encoding over a socket file: the end of the
    stream is a last empty chunk, which the client reads as its end."""

    def __init__(self, wfile):
        self.wfile = wfile

    def write(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), bytes(data)))
        return len(data)

    def close(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _LiveHandler(http.server.BaseHTTPRequestHandler):
    media = None
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        started = time.monotonic()
        body = _Chunked(self.wfile)
        with av.open(self.media) as source, av.open(body, "w", format="mpegts") as live:
            copies = {s.index: live.add_stream_from_template(s) for s in source.streams if s.type in ("video", "audio")}
            for packet in source.demux(*(source.streams[index] for index in copies)):
                if packet.dts is None:
                    continue
                wait = started + float(packet.dts * packet.time_base) - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                packet.stream = copies[packet.stream.index]
                live.mux(packet)
        body.close()
        print(f"sent {time.monotonic() - started:.3f} {time.monotonic():.3f}", flush=True)

    def log_message(self, *args):
        pass


def main(media):
    _LiveHandler.media = media
    server = http.server.HTTPServer(("127.0.0.1", 0), _LiveHandler)
    print(f"serving {server.server_address[1]}", flush=True)
    server.handle_request()


if __name__ == "__main__":
    main(sys.argv[1])
