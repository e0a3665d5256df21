#!/usr/bin/env bash
# link = tcp with real certificates instead of the run key (docs/RUNTIME.md,
# "Certificates"): a throwaway CA, a supervisor certificate for 127.0.0.1 and
# an actor certificate, made here with the openssl command.
#  1. Mutual TLS: the run completes, bitwise the shm run's model.
#  2. An actor whose CA is another one refuses the supervisor, with a line
#     saying its certificate does not verify against that CA; not retried.
#  3. An actor whose certificate another CA signed is refused by the
#     supervisor, which logs that the actor's certificate does not verify.
#  4. A certificate that names another host is refused by the actor.
#  5. A run-key actor is refused; half the tls_* keys is a configuration error.
source "$(dirname "$0")/runtime_common.bash"
command -v openssl > /dev/null || { echo "skip: no openssl command (Debian package openssl)"; exit 77; }
c=$tmp/pki
mkdir -p "$c"
# mkca NAME; mkcert CA NAME SAN: EC P-256 keys, 1 day.
mkca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$c/$1.key" -out "$c/$1.pem" \
        -days 1 -subj "/CN=photon-sim test $1" 2> "$c/err" || { cat "$c/err"; fail "openssl: CA $1"; }
}
mkcert() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$c/$2.key" -out "$c/$2.csr" \
        -subj "/CN=$2" 2> "$c/err" || { cat "$c/err"; fail "openssl: key $2"; }
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" > "$c/$2.ext"
    openssl x509 -req -in "$c/$2.csr" -CA "$c/$1.pem" -CAkey "$c/$1.key" -CAcreateserial -days 1 \
        -extfile "$c/$2.ext" -out "$c/$2.pem" 2> "$c/err" || { cat "$c/err"; fail "openssl: cert $2"; }
}
mkca ca; mkca other
mkcert ca server "IP:127.0.0.1,DNS:localhost"
mkcert ca actor "DNS:actor1"
mkcert other stranger "DNS:actor2"
mkcert ca elsewhere "DNS:elsewhere.example"

write_tiny_ini "$tmp/x.ini"
sets=(--set clients.actors=1 --set eval.every=0 --set checkpoint.every=0)
"$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/shm" > "$tmp/shm.txt" 2>&1 \
    || { cat "$tmp/shm.txt"; fail "shm run exited with $?"; }

pids=()
stop_all() { kill -9 "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"; }
trap stop_all EXIT
# start_sup NAME CERT: a tcp supervisor with certificates; sets sup and port.
start_sup() {
    "$PHOTON_SIM" "$tmp/x.ini" "${sets[@]}" --set run.out_dir="$tmp/$1" --set aggregator.link=tcp \
        --set aggregator.tls_ca="$c/ca.pem" --set aggregator.tls_cert="$c/$2.pem" --set aggregator.tls_key="$c/$2.key" \
        --set aggregator.connect_timeout=60 > "$tmp/$1.txt" 2>&1 &
    sup=$!
    pids+=($sup)
    for _ in $(seq 300); do [ -s "$tmp/$1/listen.addr" ] && break; kill -0 $sup 2>/dev/null || break; sleep 0.05; done
    [ -s "$tmp/$1/listen.addr" ] || { cat "$tmp/$1.txt"; fail "$1: no listen.addr"; }
    port=$(cut -d: -f2 "$tmp/$1/listen.addr")
}
# actor NAME CA CERT [HOST]: a certificate-mode actor that must be refused (exit 1, no retry).
refused_actor() {
    local rc=0
    timeout 30 "$PHOTON_SIM" actor --connect "${5:-127.0.0.1}:$port" --tls-ca "$c/$2.pem" --tls-cert "$c/$3.pem" \
        --tls-key "$c/$3.key" --retries 0 > "$tmp/$1.txt" 2>&1 || rc=$?
    [ $rc = 1 ] || { cat "$tmp/$1.txt"; fail "$1: actor exit $rc, expected 1 (refused)"; }
    grep -q "$4" "$tmp/$1.txt" || { cat "$tmp/$1.txt"; fail "$1: no line saying '$4'"; }
    grep -q "reconnecting" "$tmp/$1.txt" && fail "$1: a refused actor retried"
    return 0
}

# 1: mutual TLS, the run completes.
start_sup run server
grep -q "TLS 1.3 with certificates on both ends" "$tmp/run.txt" || fail "no log line naming the certificate mode"
[ -e "$tmp/run/run.key" ] && fail "a run key was generated in the certificate mode"
# 2: the actor trusts another CA: it refuses the supervisor.
refused_actor wrongca other actor "the supervisor's certificate does not verify against the CA in $c/other.pem"
for _ in $(seq 100); do grep -q "rejected actor connection" "$tmp/run.txt" && break; sleep 0.05; done
grep -q "rejected actor connection from 127.0.0.1:[0-9]*: the actor refused our certificate" "$tmp/run.txt" \
    || { cat "$tmp/run.txt"; fail "the supervisor did not say that the actor refused its certificate"; }
# 3: the actor's certificate comes from another CA: the supervisor refuses it.
refused_actor stranger ca stranger "the supervisor refused our certificate (.*unknown ca)"
for _ in $(seq 100); do grep -q "the actor's certificate does not verify" "$tmp/run.txt" && break; sleep 0.05; done
grep -q "rejected actor connection from 127.0.0.1:[0-9]*: the actor's certificate does not verify against the CA in $c/ca.pem" \
    "$tmp/run.txt" || { cat "$tmp/run.txt"; fail "the supervisor did not say why it refused the stranger's certificate"; }
# 5a: a run-key actor.
head -c 32 /dev/urandom > "$tmp/some.key"; chmod 600 "$tmp/some.key"
rc=0; timeout 30 "$PHOTON_SIM" actor --connect "127.0.0.1:$port" --key-file "$tmp/some.key" --retries 0 > "$tmp/psk.txt" 2>&1 || rc=$?
[ $rc = 1 ] && grep -q "authentication with the supervisor failed (.*): the supervisor.s certificate was shown, but this end authenticates with the run key" "$tmp/psk.txt" \
    || { cat "$tmp/psk.txt"; fail "run-key actor: exit $rc"; }
for _ in $(seq 100); do [ "$(grep -c "the actor refused our certificate" "$tmp/run.txt")" = 2 ] && break; sleep 0.05; done
grep -q "the actor refused our certificate .*or it is an actor with a run key" "$tmp/run.txt" \
    || { cat "$tmp/run.txt"; fail "the supervisor did not log the run-key actor"; }
# the real one
"$PHOTON_SIM" actor --connect "127.0.0.1:$port" --tls-ca "$c/ca.pem" --tls-cert "$c/actor.pem" --tls-key "$c/actor.key" \
    > "$tmp/a1.txt" 2>&1 &
a1=$!
pids+=($a1)
rc=0; wait $sup || rc=$?
[ $rc = 0 ] || { cat "$tmp/run.txt" "$tmp/a1.txt"; fail "the certificate run exited with $rc"; }
rc=0; wait $a1 || rc=$?
[ $rc = 0 ] || { cat "$tmp/a1.txt"; fail "the actor exited with $rc"; }
h_shm=$(grep -o '"model_hash":"[0-9a-f]*"' "$tmp/shm/summary.json")
h_tcp=$(grep -o '"model_hash":"[0-9a-f]*"' "$tmp/run/summary.json")
[ -n "$h_shm" ] && [ "$h_shm" = "$h_tcp" ] || fail "certificate run model $h_tcp differs from the shm model $h_shm"

# 4: a supervisor certificate for another name.
start_sup host elsewhere
refused_actor badhost ca actor "does not verify against the CA in $c/ca.pem: [Hh]ostname mismatch\|IP address mismatch"
kill $sup; wait $sup 2>/dev/null || true

# 5b: the tls_* keys go together; key_file excludes them.
rc=0; "$PHOTON_SIM" "$tmp/x.ini" --set aggregator.link=tcp --set aggregator.tls_ca="$c/ca.pem" > "$tmp/half.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "tls_ca, tls_cert and tls_key go together (tls_ca is set, tls_cert is not)" "$tmp/half.txt" \
    || { cat "$tmp/half.txt"; fail "half the tls keys: exit $rc"; }
rc=0; "$PHOTON_SIM" actor --connect 127.0.0.1:1 --tls-ca "$c/ca.pem" --key-file "$tmp/some.key" > "$tmp/both.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "two ways to authenticate" "$tmp/both.txt" || { cat "$tmp/both.txt"; fail "actor with both: exit $rc"; }
rc=0; "$PHOTON_SIM" actor --connect 127.0.0.1:1 --tls-ca "$c/ca.pem" --tls-cert "$c/actor.pem" --tls-key "$c/ca.pem" > "$tmp/badkey.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "$c/ca.pem: not a PEM private key" "$tmp/badkey.txt" || { cat "$tmp/badkey.txt"; fail "a certificate as the key: exit $rc"; }
echo "ok: mutual TLS run bitwise the shm run; wrong CA, foreign actor, wrong host and run-key actor refused"
