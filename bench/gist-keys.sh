#!/usr/bin/env bash
# What a range costs the exclusion constraint's GiST index, for several keys: the dataset's
# ranges (one per participant and one per venue of each event, keys as entente hashes
# them) go into one table per key, one event at a time in file order as the load does;
# then the first "ok" booking candidates are inserted in groups of four, twice, and the
# time per inserted range is printed. Throwaway cluster (.ci/with-postgres).
#
#   bench/gist-keys.sh [-d dataset_dir]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$ROOT/target/bench-data
while getopts d: opt; do
  case $opt in d) DATA=$OPTARG ;; *) sed -n 8p "$0" >&2; exit 2 ;; esac
done
[ -f "$DATA/bookings.jsonl" ] || { mkdir -p "$DATA"; python3 "$ROOT/../shared/bench/gen_dataset.py" --out "$DATA" >/dev/null; }
WORK=$(mktemp -d /tmp/gist-keys-XXXXXX)
chmod 0755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
# storage::postgres::key64: the first 8 bytes of SHA-256(axis "/" id), big-endian, signed.
python3 - "$DATA" "$WORK" <<'PY'
import hashlib, json, struct, sys
data, work = sys.argv[1], sys.argv[2]
def k64(axis, i):
    return struct.unpack('>q', hashlib.sha256(axis + b'/' + i.encode()).digest()[:8])[0]
def rows(f, n, prefix, d):
    fam = k64(b'e', prefix + str(d['id']))
    for p in d['participant_ids']:
        f.write(f"{n},{prefix}{d['id']},{k64(b'p', str(p))},{p},{fam},{d['start_utc']},{d['end_utc']}\n")
    f.write(f"{n},{prefix}{d['id']},{k64(b'v', str(d['venue_id']))},{100000 + d['venue_id']},{fam},{d['start_utc']},{d['end_utc']}\n")
with open(f'{work}/ev.csv', 'w') as f:
    for n, line in enumerate(open(f'{data}/events.jsonl')):
        rows(f, n, 'e', json.loads(line))
with open(f'{work}/bk.csv', 'w') as f:
    n = 0
    for line in open(f'{data}/bookings.jsonl'):
        d = json.loads(line)
        if d['expect'] == 'ok':
            rows(f, n, 'b', d)
            n += 1
PY
chmod 0644 "$WORK"/*.csv
cat > "$WORK/keys.sql" <<SQL
CREATE EXTENSION btree_gist;
CREATE TABLE ev (n int, id text, holder bigint, small int, family bigint, s timestamptz, e timestamptz);
\copy ev FROM '$WORK/ev.csv' CSV
CREATE TABLE bk (n int, id text, holder bigint, small int, family bigint, s timestamptz, e timestamptz);
\copy bk FROM '$WORK/bk.csv' CSV
CREATE INDEX ON ev (n); CREATE INDEX ON bk ((n / 4)); ANALYZE ev; ANALYZE bk;
-- entente's key; the range first; small integer ids; no family; pgbench's.
CREATE TABLE a (event_id text, holder bigint, family bigint, during tstzrange, EXCLUDE USING gist (holder WITH =, during WITH &&, family WITH <>));
CREATE TABLE b (event_id text, holder bigint, family bigint, during tstzrange, EXCLUDE USING gist (during WITH &&, holder WITH =, family WITH <>));
CREATE TABLE c (event_id text, holder int, family bigint, during tstzrange, EXCLUDE USING gist (holder WITH =, during WITH &&, family WITH <>));
CREATE TABLE d (event_id text, holder bigint, family bigint, during tstzrange, EXCLUDE USING gist (holder WITH =, during WITH &&));
CREATE TABLE e (event_id text, holder int, family bigint, during tstzrange, EXCLUDE USING gist (holder WITH =, during WITH &&));
CREATE FUNCTION fill(t text, src text, lo int, hi int) RETURNS text LANGUAGE plpgsql AS \$f\$
DECLARE st timestamptz := clock_timestamp(); k int := lo; total bigint := 0; c bigint;
  col text := CASE WHEN t IN ('c', 'e') THEN 'small' ELSE 'holder' END;
BEGIN
  WHILE k < hi LOOP
    EXECUTE format('INSERT INTO %I SELECT id, %s, family, tstzrange(s, e, ''[)'') FROM %I WHERE %s = \$1',
                   t, col, src, CASE WHEN src = 'ev' THEN 'n' ELSE 'n / 4' END) USING k;
    GET DIAGNOSTICS c = ROW_COUNT; total := total + c; k := k + 1;
  END LOOP;
  RETURN format('key=%s table=%s ranges=%s us_per_range=%s', t, src, total,
                round(extract(epoch FROM clock_timestamp() - st) * 1e6 / total, 1));
END \$f\$;
SELECT fill(t, 'ev', 0, (SELECT max(n) + 1 FROM ev)) FROM unnest(array['a','b','c','d','e']) t;
VACUUM ANALYZE a; VACUUM ANALYZE b; VACUUM ANALYZE c; VACUUM ANALYZE d; VACUUM ANALYZE e; CHECKPOINT;
SELECT relname, pg_size_pretty(pg_relation_size(oid)) FROM pg_class WHERE relname LIKE '%excl' ORDER BY relname;
SELECT fill(t, 'bk', 0, 1500) FROM unnest(array['a','b','c','d','e']) t;
SELECT fill(t, 'bk', 1500, 3000) FROM unnest(array['e','d','c','b','a']) t;
SQL
chmod 0644 "$WORK/keys.sql"
export WORK
"$ROOT/.ci/with-postgres" bash -c '"$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql" -qXtA -h "$ENTENTE_PG_SOCKET" -U entente entente -f "$WORK/keys.sql"' | grep -v '^$'
