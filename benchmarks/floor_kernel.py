"""The smallest Jupyter kernel that answers at once, in Python with pyzmq: the floor any kernel
is measured against in bench_kernel.py (the measuring client's own cost, zmq and the message
signing). It runs nothing, but sends every message the protocol asks of a kernel: an
execute_request gets busy, `execute_input` (published for every non-silent request, so the
client receives and parses it from any real kernel), an `execute_result` of "2" for the code
"1+1", an ok reply and idle.

    python benchmarks/floor_kernel.py -f CONNECTION_FILE
"""
import argparse
import datetime
import hashlib
import hmac
import json
import uuid

import zmq

DELIM = b"<IDS|MSG>"


class FloorKernel:
    def __init__(self, connection):
        self.key = connection["key"].encode()
        self.session = uuid.uuid4().hex
        self.count = 0
        ctx = zmq.Context()
        url = f"{connection['transport']}://{connection['ip']}:"
        self.shell = ctx.socket(zmq.ROUTER)
        self.shell.bind(url + str(connection["shell_port"]))
        self.control = ctx.socket(zmq.ROUTER)
        self.control.bind(url + str(connection["control_port"]))
        self.stdin = ctx.socket(zmq.ROUTER)
        self.stdin.bind(url + str(connection["stdin_port"]))
        self.iopub = ctx.socket(zmq.PUB)
        self.iopub.bind(url + str(connection["iopub_port"]))
        self.hb = ctx.socket(zmq.REP)
        self.hb.bind(url + str(connection["hb_port"]))

    def sign(self, parts):
        mac = hmac.new(self.key, digestmod=hashlib.sha256)
        for p in parts:
            mac.update(p)
        return mac.hexdigest().encode()

    def send(self, sock, idents, msg_type, content, parent):
        header = {"msg_id": uuid.uuid4().hex, "session": self.session, "username": "floor",
                  "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                  "msg_type": msg_type, "version": "5.3"}
        parts = [json.dumps(x).encode() for x in (header, parent, {}, content)]
        sock.send_multipart(idents + [DELIM, self.sign(parts)] + parts)

    def handle(self, sock, frames):
        i = frames.index(DELIM)
        idents, parts = frames[:i], frames[i + 2:i + 6]
        parent = json.loads(parts[0])
        content = json.loads(parts[3])
        kind = parent["msg_type"]
        self.send(self.iopub, [b"status"], "status", {"execution_state": "busy"}, parent)
        if kind == "kernel_info_request":
            self.send(sock, idents, "kernel_info_reply", {
                "status": "ok", "protocol_version": "5.3", "implementation": "floor",
                "implementation_version": "0", "banner": "",
                "language_info": {"name": "python", "version": "3", "mimetype": "text/x-python",
                                  "file_extension": ".py"}}, parent)
        elif kind == "execute_request":
            if not content.get("silent") and content.get("store_history", True):
                self.count += 1
            if not content.get("silent"):
                self.send(self.iopub, [b"execute_input"], "execute_input",
                          {"code": content.get("code", ""), "execution_count": self.count}, parent)
            if content.get("code", "").strip() == "1+1":
                self.send(self.iopub, [b"execute_result"], "execute_result",
                          {"execution_count": self.count, "data": {"text/plain": "2"},
                           "metadata": {}}, parent)
            self.send(sock, idents, "execute_reply", {
                "status": "ok", "execution_count": self.count, "user_expressions": {},
                "payload": []}, parent)
        elif kind == "shutdown_request":
            self.send(sock, idents, "shutdown_reply", {"status": "ok", "restart": False}, parent)
            raise SystemExit(0)
        self.send(self.iopub, [b"status"], "status", {"execution_state": "idle"}, parent)

    def serve(self):
        poller = zmq.Poller()
        for sock in (self.shell, self.control, self.hb):
            poller.register(sock, zmq.POLLIN)
        while True:
            for sock, _ in poller.poll():
                frames = sock.recv_multipart()
                if sock is self.hb:
                    sock.send_multipart(frames)
                else:
                    self.handle(sock, frames)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-f", dest="connection_file", required=True)
    args = ap.parse_args()
    with open(args.connection_file) as f:
        FloorKernel(json.load(f)).serve()


if __name__ == "__main__":
    main()
