"""SQL text for QuestDB shared by the store, the purge and the write barrier: quoting and
the names of tsanalysis' internal tables."""

from __future__ import annotations

#: Internal tables (never part of the data model).
JOURNAL_TABLE = "tsanalysis_purge_journal"
STATE_TABLE = "tsanalysis_purge_state"
SWAP_TABLE = "tsanalysis_purge_swaps"
SEQ_TABLE = "tsanalysis_seq"

#: Status of a session whose rows are being removed: invisible to every read.
DELETING = "deleting"

#: Deleted rows keep their place but not their session id: a delete relabels them
#: ``~<delete id>``, which no session id can be (ids start with a letter or digit).
DEAD_PREFIX = "~"
#: Conditions on a row: relabelled by a delete, or not (a regular expression: psycopg
#: would read the ``%`` of a LIKE pattern as a placeholder). NULL ids count as live.
DEAD = "session_id ~ '^~'"
LIVE = "(session_id IS NULL OR NOT (session_id ~ '^~'))"


def q(name: str) -> str:
    """Quote an identifier (QuestDB takes double quotes, like PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'
