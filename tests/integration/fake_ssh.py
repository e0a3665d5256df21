#!/usr/bin/env python3
"""A stand-in for ssh (tests/integration/ssh_actors.sh puts it first on PATH
as `ssh`): `ssh [options] HOST COMMAND...` runs COMMAND on this machine with
`sh -c` (a POSIX login shell, as sshd would) and logs the host and the whole
command line to $FAKE_SSH_LOG, so the test can check what crossed a command
line.  Like a real session, the command's stdin is a pipe that this process
feeds from its own stdin and closes when it ends (its stdin reaches EOF, or
it is killed with TERM, INT or HUP): the remote side sees the connection go
away as end-of-file, and gets no signal."""
import os
import signal
import subprocess
import sys
import threading

# ssh options that take a value; the rest are flags.
WITH_VALUE = set("BbcDEeFIiJLlmOoPpQRSWw")

args = sys.argv[1:]
i = 0
while i < len(args) and args[i].startswith("-"):
    opt = args[i]
    i += 1
    if len(opt) == 2 and opt[1] in WITH_VALUE:
        i += 1
if i >= len(args) - 1:
    sys.exit("fake ssh: usage: ssh [options] HOST COMMAND...")
host, command = args[i], " ".join(args[i + 1:])
with open(os.environ["FAKE_SSH_LOG"], "a") as log:
    log.write(f"{host}\t{' '.join(sys.argv[1:])}\n")

child = subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE)
lock = threading.Lock()


def hang_up():
    with lock:
        try:
            child.stdin.close()
        except OSError:
            pass


def feed():
    try:
        while True:
            b = os.read(0, 65536)
            if not b:
                break
            child.stdin.write(b)
            child.stdin.flush()
    except (OSError, ValueError):   # ValueError: hung up meanwhile
        pass
    hang_up()


signalled = []


def on_signal(signum, frame):
    # The main thread's wait() returns once the command has seen EOF and exited.
    signalled.append(signum)
    hang_up()


for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, on_signal)
threading.Thread(target=feed, daemon=True).start()
rc = child.wait()
sys.exit(255 if signalled else rc)
