"""Print the URL of a local PostgreSQL the tests may use, or nothing.

`make test` runs this and passes the answer as FINCH_TEST_POSTGRES_URL, so persistence tests
run on PostgreSQL too wherever a server answers on 127.0.0.1:5432 (trust auth, database
`test` or `postgres`) as a user who may create databases: each test gets a database of its
own, copied from one at the app's schema, and drops it afterwards.
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
                    row = c.execute(
                        "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
                    ).fetchone()
            except Exception:  # noqa: BLE001 - no server, no such user or database
                continue
            if not (row and row[0]):
                continue  # may not create databases
            return f"postgresql+psycopg://{user}@127.0.0.1:5432/{database}"
    return ""


if __name__ == "__main__":
    print(probe())
