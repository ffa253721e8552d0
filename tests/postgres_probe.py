"""Print the URL of a local PostgreSQL the tests may use, or nothing.

`make test` runs this and passes the answer as FINCH_TEST_POSTGRES_URL, so persistence tests
run on PostgreSQL too wherever a server answers on 127.0.0.1:5432 (trust auth, database
`test` or `postgres`). Tests create a schema of their own in it and drop it afterwards.
"""

from __future__ import annotations

import getpass
import os


def probe() -> str:
    try:
        import psycopg
    except ImportError:
        return ""
    users = [u for u in (os.environ.get("PGUSER"), "postgres", "root", getpass.getuser()) if u]
    for user in dict.fromkeys(users):
        for database in ("test", "postgres"):
            try:
                with psycopg.connect(
                    host="127.0.0.1", port=5432, user=user, dbname=database, connect_timeout=2
                ) as c:
                    c.execute("CREATE SCHEMA IF NOT EXISTS finch_probe")
                    c.execute("DROP SCHEMA finch_probe")
            except Exception:  # noqa: BLE001 - no server, no such user or database, no rights
                continue
            return f"postgresql+psycopg://{user}@127.0.0.1:5432/{database}"
    return ""


if __name__ == "__main__":
    print(probe())
