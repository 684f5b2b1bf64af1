#!/usr/bin/python3
"""Host side of the QEMU-side captures (run by ../make-real-cores.sh).

Waits until the first kernel announces on its second serial port (ttyS1)
that the scenario has run, pauses the VM over QMP, writes two
`dump-guest-memory` captures (ELF and flattened kdump-zlib, both with
`paging: false`), resumes the VM and tells the guest to go on and crash
(VMTAINT-GO, acknowledged with VMTAINT-GOING).

usage: qmp_dump.py QMP_SOCKET TTYS1_SOCKET ELF_OUT KDUMP_OUT TIMEOUT_SECONDS
"""

import json
import os
import socket
import sys
import time


class Failure(Exception):
    """Anything that stops the capture; reported as one line."""


def connect(path, deadline):
    """QEMU creates its listening sockets shortly after it starts."""
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError as err:
            sock.close()
            if time.monotonic() > deadline:
                raise Failure(f"cannot connect to {path}: {err}") from err
            time.sleep(0.05)


def recv_some(sock, deadline, what):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Failure(f"timed out waiting for {what}")
    sock.settimeout(remaining)
    try:
        chunk = sock.recv(65536)
    except socket.timeout as err:
        raise Failure(f"timed out waiting for {what}") from err
    if not chunk:
        raise Failure(f"connection closed while waiting for {what}")
    return chunk


class Qmp:
    """Just enough QMP: one command at a time, events skipped."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.pending = b""
        greeting = self._message(deadline, "QMP greeting")
        if "QMP" not in greeting:
            raise Failure(f"unexpected QMP greeting: {greeting}")
        self.command("qmp_capabilities", timeout=10)

    def _message(self, deadline, what):
        while b"\n" not in self.pending:
            self.pending += recv_some(self.sock, deadline, what)
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, arguments=None, timeout=60):
        request = {"execute": name}
        if arguments is not None:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._message(deadline, f"QMP reply to {name}")
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise Failure(f"QMP {name} failed: {reply['error']}")


def main(argv):
    if len(argv) != 6:
        raise Failure(__doc__.strip().splitlines()[-1])
    qmp_path, tty_path, elf_out, kdump_out, timeout = argv[1:]
    deadline = time.monotonic() + float(timeout)

    qmp = Qmp(connect(qmp_path, deadline), deadline)
    tty = connect(tty_path, deadline)

    seen = b""
    while b"VMTAINT-READY" not in seen:
        # Keep only a tail: the marker may straddle two reads.
        seen = seen[-64:] + recv_some(tty, deadline, "VMTAINT-READY on ttyS1")

    qmp.command("stop")
    for path, fmt in ((elf_out, "elf"), (kdump_out, "kdump-zlib")):
        qmp.command(
            "dump-guest-memory",
            {"paging": False, "protocol": "file:" + os.path.abspath(path), "format": fmt},
            timeout=max(1.0, deadline - time.monotonic()),
        )
    qmp.command("cont")
    # QEMU may drop bytes still queued when a socket client hangs up, so
    # repeat the answer until the guest acknowledges it.
    seen = b""
    while b"VMTAINT-GOING" not in seen:
        tty.sendall(b"VMTAINT-GO\n")
        try:
            seen = seen[-64:] + recv_some(tty, min(deadline, time.monotonic() + 1), "VMTAINT-GOING")
        except Failure:
            if time.monotonic() > deadline:
                raise
    tty.close()
    qmp.sock.close()


if __name__ == "__main__":
    try:
        main(sys.argv)
    except (Failure, OSError, ValueError) as err:
        print(f"qmp_dump: {err}", file=sys.stderr)
        sys.exit(1)
