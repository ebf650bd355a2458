"""The QuestDB store: a QuestDB server (9.3 or newer) behind the storage contract.

One job per module:

``config``     the ``questdb://`` URL and its defaults
``sql``        SQL text: quoting, literals, placeholders, DDL, internal table names
``transport``  talking to the server: PG wire, HTTP ``/exp``, ILP, WAL waits, errors
``convert``    wire types to Arrow and pandas
``store``      :class:`QuestDBStore`, the contract (sessions, writes, reads, delete)
``purge``      deleting sessions, ordered with concurrent writes
``reclaim``    rewriting day partitions to free the disk of deleted rows
``fence``      the barrier between writers and a rewrite
``lock``       leased locks on the server

``docs/questdb-notes.md`` has the facts about QuestDB these modules rely on, and
``docs/questdb-delete.md`` the argument for how a delete stays safe under other writers.
"""

from .config import QuestDBConfig
from .sql import literal, q, render_ddl, translate_placeholders
from .store import QuestDBStore

__all__ = ["QuestDBConfig", "QuestDBStore", "literal", "q", "render_ddl",
           "translate_placeholders"]
