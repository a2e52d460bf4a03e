"""A packet delay line on a Linux netfilter queue: every packet queued to NFQUEUE number N is held
for DELAY_MS, then accepted, in arrival order. It stands in for `tc qdisc ... netem delay` on kernels
built without sch_netem (the fault tests probe netem first). Pure Python over a raw netlink socket
(nfnetlink_queue), so it needs no C library; it must run in the network namespace whose iptables
rule queues the packets, with CAP_NET_ADMIN.

    python3 nfq_delay.py --queue 7 --delay-ms 500
"""

from __future__ import annotations

import argparse
import collections
import errno
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
NF_ACCEPT = 1


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _message(msg_type: int, queue: int, attrs: bytes, seq: int) -> bytes:
    nfgen = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue))
    body = nfgen + attrs
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, NLM_F_REQUEST, seq, 0) + body


def _attrs(data: bytes) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        found[kind & 0x3FFF] = data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return found


def _check_errors(sock: socket.socket) -> None:
    """Reads the kernel's answers to configuration messages; a non-zero error code is fatal."""
    ready, _, _ = select.select([sock], [], [], 0.2)
    while ready:
        data = sock.recv(65536)
        offset = 0
        while offset + 16 <= len(data):
            length, msg_type, _, _, _ = struct.unpack_from("=IHHII", data, offset)
            if msg_type == NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", data, offset + 16)
                if code != 0:
                    raise OSError(-code, f"nfqueue configuration refused: {errno.errorcode.get(-code, code)}")
            offset += (length + 3) & ~3
        ready, _, _ = select.select([sock], [], [], 0.05)


def run(queue: int, delay_s: float) -> None:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((0, 0))
    bind = _attr(NFQA_CFG_CMD, struct.pack("=BxH", NFQNL_CFG_CMD_BIND, 0))
    sock.send(_message(NFQNL_MSG_CONFIG, queue, bind, 1))
    params = _attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))
    sock.send(_message(NFQNL_MSG_CONFIG, queue, params, 2))
    # No NLM_F_ACK: the kernel answers only errors (NLMSG_ERROR), which _check_errors reads.
    _check_errors(sock)
    print(f"nfq_delay: queue {queue}, delay {delay_s * 1000:.0f} ms", flush=True)

    held: collections.deque[tuple[float, int]] = collections.deque()
    seq = 3
    while True:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else None
        ready, _, _ = select.select([sock], [], [], timeout)
        if ready:
            data = sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, msg_type, _, _, _ = struct.unpack_from("=IHHII", data, offset)
                if msg_type == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", data, offset + 16)
                    if code != 0:
                        print(f"nfq_delay: kernel error {code}", file=sys.stderr, flush=True)
                elif msg_type & 0xFF == NFQNL_MSG_PACKET:
                    attrs = _attrs(data[offset + 20:offset + length])
                    header = attrs.get(NFQA_PACKET_HDR)
                    if header is not None:
                        (packet_id,) = struct.unpack_from("!I", header)
                        held.append((time.monotonic() + delay_s, packet_id))
                offset += (length + 3) & ~3
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, packet_id = held.popleft()
            verdict = _attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))
            sock.send(_message(NFQNL_MSG_VERDICT, queue, verdict, seq))
            seq += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", type=int, required=True)
    parser.add_argument("--delay-ms", type=int, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run(args.queue, args.delay_ms / 1000.0)


if __name__ == "__main__":
    main()
