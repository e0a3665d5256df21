#!/usr/bin/env python3
"""An on-path attacker for the TCP link tests (tests/integration/tcp_attack.sh).

Forwards TCP connections from a local port to TARGET, records every byte in
both directions (--capture FILE), and on the first connection only attacks
one direction's TLS records once that direction has carried --after bytes:

  flip      flip one bit in the middle of a record (its ciphertext)
  replay    send the record twice
  reorder   swap the record with the next one
  truncate  send half of the record, then cut both sides
  drop      leave the record out
  none      forward untouched

Later connections (the actor reconnecting) pass untouched.  Writes the port it
listens on to --port-file and one line per attack to stderr.

usage: tcp_proxy.py TARGET_HOST:PORT --port-file F [--capture F]
                    [--attack MODE --direction up|down --after BYTES]
"""
import argparse
import socket
import sys
import threading

lock = threading.Lock()
state = {"conns": 0, "attacked": False}


def records(buf):
    """Splits complete TLS records off the front of buf: (list, rest)."""
    out = []
    while len(buf) >= 5:
        n = 5 + int.from_bytes(buf[3:5], "big")
        if len(buf) < n:
            break
        out.append(buf[:n])
        buf = buf[n:]
    return out, buf


def pump(src, dst, capture, attack, after, name):
    buf = b""
    seen = 0
    held = None  # reorder: the record waiting for its successor
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if capture:
                with lock:
                    capture.write(data)
                    capture.flush()
            if attack is None and held is None:
                dst.sendall(buf + data)
                buf = b""
                continue
            recs, buf = records(buf + data)
            out = b""
            for r in recs:
                if attack is None and held is None:
                    out += r
                    continue
                seen += len(r)
                if held is not None:
                    out += r + held
                    held, attack = None, None
                    print(f"proxy: {name}: swapped two records", file=sys.stderr, flush=True)
                    continue
                if seen < after or r[0] != 23:
                    out += r
                    continue
                print(f"proxy: {name}: {attack} on a record of {len(r)} bytes after {seen} bytes",
                      file=sys.stderr, flush=True)
                if attack == "flip":
                    b = bytearray(r)
                    b[5 + (len(r) - 5) // 2] ^= 0x01
                    out += bytes(b)
                elif attack == "replay":
                    out += r + r
                elif attack == "reorder":
                    held = r
                    continue
                elif attack == "truncate":
                    dst.sendall(out + r[: len(r) // 2])
                    raise ConnectionAbortedError
                attack = None  # drop: nothing sent
            dst.sendall(out)
    except (OSError, ConnectionAbortedError):
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(conn, target, capture, args):
    with lock:
        first = state["conns"] == 0
        state["conns"] += 1
    try:
        up = socket.create_connection(target)
    except OSError:
        conn.close()
        return
    a_up = args.attack if first and args.attack != "none" and args.direction == "up" else None
    a_down = args.attack if first and args.attack != "none" and args.direction == "down" else None
    t1 = threading.Thread(target=pump, args=(conn, up, capture, a_up, args.after, "actor->supervisor"), daemon=True)
    t2 = threading.Thread(target=pump, args=(up, conn, capture, a_down, args.after, "supervisor->actor"), daemon=True)
    t1.start()
    t2.start()
    t1.join()
    t2.join()
    conn.close()
    up.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--capture")
    ap.add_argument("--attack", default="none", choices=["none", "flip", "replay", "reorder", "truncate", "drop"])
    ap.add_argument("--direction", default="up", choices=["up", "down"])
    ap.add_argument("--after", type=int, default=0)
    args = ap.parse_args()
    host, port = args.target.rsplit(":", 1)
    target = (host, int(port))
    capture = open(args.capture, "ab") if args.capture else None
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(f"{ls.getsockname()[1]}\n")
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, target, capture, args), daemon=True).start()


if __name__ == "__main__":
    main()
