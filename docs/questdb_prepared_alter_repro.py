"""Stress check for an intermittent QuestDB 9.3.4 PG-wire problem: re-executing a
server-side prepared (named) ALTER statement ran a *different* ALTER that had been
prepared later on the same connection, dropping a partition of the wrong table.

Seen three times on 2026-11-28 (psycopg 3.3.9; named statements from
prepare_threshold=0 or from the default threshold 5 after repeated use): the server
log shows `ApplyWal2TableJob ... [table=<other table>, rows=0]` ALTER commits that no
client issued. Later runs of the same sequence (this script, 20-30 rounds) did not
reproduce it, so the trigger is timing-dependent. With prepare_threshold=None
(no named statements) it was never seen. Mitigation used by tsanalysis: connect
with prepare_threshold=None.

    /work/venv/bin/python docs/questdb_prepared_alter_repro.py [--pg-port 8812] [--rounds 20]
"""
import argparse
import time

import psycopg

DDL = ("CREATE TABLE {t} (session_id SYMBOL, seq LONG, ts TIMESTAMP, price DOUBLE) "
       "TIMESTAMP(ts) PARTITION BY DAY WAL")
ROWS = ("INSERT INTO {t} VALUES ('X', 1, '2026-01-01T01:00:00Z', 1), "
        "('X', 2, '2026-01-02T01:00:00Z', 1), ('X', 3, '2026-01-03T01:00:00Z', 1)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-port", type=int, default=8812)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    dsn = f"host=127.0.0.1 port={args.pg_port} user=admin password=quest dbname=qdb"
    admin = psycopg.connect(dsn, autocommit=True, prepare_threshold=None)

    def settle():
        for _ in range(500):
            if all(w >= s for w, s in admin.execute(
                    "SELECT writerTxn, sequencerTxn FROM wal_tables() WHERE name IN ('qa_main','qa_stage')")):
                return
            time.sleep(0.01)

    def parts():
        settle()
        return {t: [r[0] for r in admin.execute(f"SELECT name FROM table_partitions('{t}')")]
                for t in ("qa_main", "qa_stage")}

    a = "ALTER TABLE qa_stage DROP PARTITION LIST '2026-01-01'"
    b = "ALTER TABLE qa_main DROP PARTITION LIST '2026-01-03'"
    for threshold in (0, 5, None):
        wrong = 0
        for i in range(args.rounds):
            for t in ("qa_main", "qa_stage"):
                admin.execute(f"DROP TABLE IF EXISTS {t}")
                admin.execute(DDL.format(t=t))
                admin.execute(ROWS.format(t=t))
            settle()
            conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=threshold)
            for _ in range(6 if threshold == 5 else 1):  # make psycopg prepare them
                conn.execute(a)
                conn.execute(b)
            for t in ("qa_main", "qa_stage"):  # put the dropped partitions back
                admin.execute(ROWS.format(t=t))
            before = parts()
            conn.execute(a)  # should drop qa_stage 2026-01-01 only
            after = parts()
            if after != {"qa_main": before["qa_main"], "qa_stage": before["qa_stage"][1:]}:
                wrong += 1
                if wrong == 1:
                    print(f"  prepare_threshold={threshold} round {i}: before {before}, after re-executing A {after}")
            conn.close()
        print(f"prepare_threshold={threshold}: wrong partition dropped in {wrong}/{args.rounds} rounds")
    for t in ("qa_main", "qa_stage"):
        admin.execute(f"DROP TABLE IF EXISTS {t}")


if __name__ == "__main__":
    main()
