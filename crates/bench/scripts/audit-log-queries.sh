#!/usr/bin/env bash
# Times the audit log page's queries on SQLite with a synthetic history of RECORDS records
# (default 2,000,000): a fresh database migrated by `roster migrate`, filled by one SQL
# statement, then each query the page makes, as the page makes it (50 rows, newest first).
# Needs a built `roster` (target/release, or the one ROSTER_BIN names) and Debian's `sqlite3`.
set -euo pipefail
records="${1:-2000000}"
here="$(cd "$(dirname "$0")/../../.." && pwd)"
roster="${ROSTER_BIN:-$here/target/release/roster}"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
"$roster" migrate --data "$data" >/dev/null
db="$data/roster.db"
# One record a second; every 50th by one of 20 administrators, the rest by the system; 100,000
# users; four kinds of action.
sqlite3 "$db" "
with recursive n(i) as (select 1 union all select i + 1 from n where i < $records)
insert into audit_log (at, actor_id, actor_name, target_id, target_name, action, changes, client_ip, seq, hash)
select 1700000000000 + i * 1000,
       case when i % 50 = 0 then 'actor-' || (i % 20) end, 'Admin ' || (i % 20),
       'user-' || (i % 100000), 'user' || (i % 100000) || '@contoso.com',
       case i % 10 when 0 then 'contact_changed' when 1 then 'user_created' when 2 then 'password_changed'
                   else 'verification_sent' end,
       '[{\"field\":\"mobile_phone\",\"sensitive\":true,\"before\":null,\"after\":\"+14255550100\"}]',
       '192.0.2.1', i, 'h'
from n;"
middle=$((1700000000000 + records * 500))
day=86400000
run() {
  printf '%-60s' "$1"
  printf '.timer on\nselect count(*) from (%s limit 50);\n' "$2" | sqlite3 "$db" | grep -o 'real [0-9.]*'
}
order="order by at desc, id desc"
run "First page" "select id from audit_log $order"
run "A page in the middle (keyset)" "select id from audit_log where (at, id) < ($middle, $((records / 2))) $order"
run "By one administrator, from the middle" "select id from audit_log where actor_id = 'actor-10' and (at, id) < ($middle, $((records / 2))) $order"
run "By action" "select id from audit_log where action = 'contact_changed' $order"
run "About one user" "select id from audit_log where target_id = 'user-42' $order"
run "One day" "select id from audit_log where at >= $middle and at < $((middle + day)) $order"
run "One action over 12 days" "select id from audit_log where at >= $middle and at < $((middle + 12 * day)) and action = 'user_created' $order"
run "Administrator and action over 12 days" "select id from audit_log where at >= $middle and at < $((middle + 12 * day)) and action = 'user_created' and actor_id = 'actor-1' $order"
run "An administrator with no records" "select id from audit_log where actor_id = 'nobody' $order"
