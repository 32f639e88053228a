#!/usr/bin/env bash
# Make sure RabbitMQ answers on 127.0.0.1:5672 (guest/guest), as the tests need.
# Idempotent: a broker already listening is left alone. Installs Debian's rabbitmq-server
# when missing (root), and starts it without systemd.
set -euo pipefail

say() { echo "rabbitmq-up: $*"; }
listening() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

if listening; then
    exit 0
fi
if ! command -v rabbitmq-server >/dev/null; then
    [[ $(id -u) -eq 0 ]] || { say "rabbitmq-server missing; fix: sudo apt-get install -y rabbitmq-server"; exit 1; }
    say "installing rabbitmq-server"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
fi
say "not listening on 5672, starting it"
rabbitmq-server -detached || true
for _ in $(seq 1 90); do
    listening && { say "ok"; exit 0; }
    sleep 1
done
say "RabbitMQ did not come up on 127.0.0.1:5672 (see /var/log/rabbitmq/)"
exit 1
