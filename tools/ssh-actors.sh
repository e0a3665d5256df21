#!/usr/bin/env bash
# Starts photon-sim remote actors on a list of hosts over ssh, for a
# supervisor that listens for them (docs/CLUSTERS.md): copies the run key to
# each host over ssh's standard input (never on a command line) into a fresh
# 0700 directory, runs N actors there, and stops them and removes the key
# when the actors exit, when this script exits, or on Ctrl-C / TERM.
#   tools/ssh-actors.sh --connect HOST:PORT --key-file KEY [--per-host N] [--photon-sim PATH]
#                       [--hosts FILE] [--ssh 'ssh -p 2222'] [HOST...] [-- ACTOR_OPTIONS...]
# HOST is anything ssh takes (user@host, an alias of ~/.ssh/config); --hosts
# FILE has one a line (# comments). Naming a host twice starts two groups.
# ACTOR_OPTIONS go to `photon-sim actor` (--threads 8 --backend cuda ...).
# Exit status: 0 when every host's actors exited 0 (stopped by the
# supervisor at the end of the run), 1 otherwise, 2 on a usage error.
set -uo pipefail

usage() { sed -n '7,8p' "$0" | sed 's/^# \{0,1\}/usage: /;2s/^usage: /       /' >&2; exit 2; }
die() { echo "ssh-actors.sh: error: $*" >&2; exit 2; }

connect='' key='' per_host=1 sim=photon-sim ssh_cmd=(ssh) hosts=() actor_args=()
while [ $# -gt 0 ]; do
    case $1 in
        --connect|--key-file|--per-host|--photon-sim|--hosts|--ssh)
            [ $# -ge 2 ] || die "$1 needs a value"
            case $1 in
                --connect) connect=$2 ;;
                --key-file) key=$2 ;;
                --per-host) per_host=$2 ;;
                --photon-sim) sim=$2 ;;
                --ssh) read -r -a ssh_cmd <<< "$2" ;;
                --hosts)
                    [ -r "$2" ] || die "cannot read the host list '$2'"
                    while read -r h _; do
                        [ -n "$h" ] && [ "${h:0:1}" != "#" ] && hosts+=("$h")
                    done < "$2" ;;
            esac
            shift 2 ;;
        --) shift; actor_args=("$@"); break ;;
        -h|--help) usage ;;
        -*) die "unknown option '$1'" ;;
        *) hosts+=("$1"); shift ;;
    esac
done
{ [ -n "$connect" ] && [ -n "$key" ]; } || usage
[[ $connect == *:[0-9]* ]] || die "--connect '$connect' is not HOST:PORT"
{ [ -f "$key" ] && [ -r "$key" ]; } || die "cannot read the key file '$key'"
[[ $per_host =~ ^[1-9][0-9]*$ ]] || die "--per-host '$per_host' is not a positive integer"
[ "${#hosts[@]}" -gt 0 ] || die "no hosts (name them, or --hosts FILE)"
[ "${#ssh_cmd[@]}" -gt 0 ] || die "--ssh is empty"
# BatchMode: a host that wants a password fails instead of hanging.
ssh_cmd+=(-o BatchMode=yes)

# ssh's standard input for each session: a FIFO held open for reading and
# writing, so the remote side never sees end-of-file while this script runs;
# it sees it when the ssh client goes away (this script stopped it, or was
# killed with it), and then stops its actors (remote_script).
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssh-actors.XXXXXX") || exit 1
mkfifo "$tmp/hold"
sessions=()
# shellcheck disable=SC2317  # called by the EXIT trap
stop_all() {
    local p
    for p in "${sessions[@]}"; do kill -TERM "$p" 2>/dev/null; done
    # An ssh client exits at once on TERM; give a wedged one 10 s.
    for _ in $(seq 100); do
        kill -0 "${sessions[@]}" 2>/dev/null || break
        sleep 0.1
    done
    for p in "${sessions[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap stop_all EXIT
trap 'echo "ssh-actors.sh: interrupted: stopping the actors" >&2; exit 130' INT
trap 'echo "ssh-actors.sh: terminated: stopping the actors" >&2; exit 143' TERM

# The command run on a host, one line for any POSIX login shell (bash -c
# with the script quoted).  It keeps the session's stdin on fd 3; a watcher
# reads it until end-of-file (the connection is gone) and then stops the
# actors; when the actors exit first, the watcher is ended.  The key
# directory goes either way.
remote_script() {   # KEYDIR
    local args='' a
    for a in "${actor_args[@]}"; do args+=" $(printf %q "$a")"; done
    printf '%s' "exec 3<&0; d=$(printf %q "$1"); pids=''; i=0; " \
        "while [ \$i -lt $per_host ]; do $(printf %q "$sim") actor --connect $(printf %q "$connect") " \
        "--key-file \"\$d/run.key\"$args < /dev/null & pids=\"\$pids \$!\"; i=\$((i + 1)); done; " \
        "{ while read -r _ <&3; do :; done; kill -TERM \$pids; } 2> /dev/null & w=\$!; " \
        "rc=0; for p in \$pids; do wait \$p || rc=\$?; done; kill \$w 2> /dev/null; rm -rf \"\$d\"; exit \$rc"
}

n=0
for h in "${hosts[@]}"; do
    n=$((n + 1))
    # The key travels on ssh's stdin into a new 0700 directory on the host.
    # shellcheck disable=SC2016  # expanded on the host
    if ! dir=$("${ssh_cmd[@]}" -T "$h" 'umask 077 && d=$(mktemp -d "${TMPDIR:-/tmp}/photon-actor.XXXXXX") && cat > "$d/run.key" && echo "$d"' < "$key") \
        || [ -z "$dir" ]; then
        echo "ssh-actors.sh: $h: could not copy the key (ssh failed)" >&2
        exit 1
    fi
    "${ssh_cmd[@]}" -T "$h" "bash -c $(printf %q "$(remote_script "$dir")")" 0<> "$tmp/hold" \
        > >(sed -u "s|^|[$h] |") 2>&1 &
    sessions+=($!)
    echo "ssh-actors.sh: $h: $per_host actor(s) -> $connect"
done

# Until every session ends (the supervisor sends STOP at the end of the run).
rc=0
for p in "${sessions[@]}"; do
    wait "$p" || rc=1
done
sessions=()
[ "$rc" = 0 ] && echo "ssh-actors.sh: all actors exited" || echo "ssh-actors.sh: some actors failed (exit status above)" >&2
exit "$rc"
