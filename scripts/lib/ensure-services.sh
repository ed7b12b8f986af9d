# Sourced by scripts/test: make sure PostgreSQL and Redis answer on 127.0.0.1 (starting them
# if they are installed but down), and give the tests a PostgreSQL role of their own.
# Exports MAILROOM_PG_URL, the server the scale-out pass runs against.

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
if [[ $(id -u) -eq 0 ]]; then as_root=(); else as_root=(sudo); fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "ensure-services: starting PostgreSQL"
    for version in $(ls /etc/postgresql); do
        "${as_root[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
    pg_isready -h 127.0.0.1 -p 5432
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "ensure-services: starting Redis"
    "${as_root[@]}" mkdir -p /var/lib/redis /var/log/redis
    "${as_root[@]}" redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 60); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
    redis-cli -h 127.0.0.1 -p 6379 ping
fi

# A login role with a password works whether the server trusts loopback or asks for one.
"${as_root[@]}" runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
SELECT 'CREATE ROLE mailroom_test LOGIN CREATEDB PASSWORD ''mailroom_test'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mailroom_test')\gexec
SQL
export MAILROOM_PG_URL="postgres://mailroom_test:mailroom_test@127.0.0.1:5432/mailroom_ci"
