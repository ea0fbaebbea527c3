"""A `SampleQuery` as SQL over `samples s`: the WHERE clause, then the page of ids or the count.

Pure: each function returns (sql, params) for `LibraryConnection.read`; nothing here runs it.
"""

from __future__ import annotations

from typing import Any

from cratedigger.library.models import SampleQuery

SORT_SQL = {
    "created": "s.created",
    "name": "s.name COLLATE NOCASE",
    "bpm": "s.bpm",
    "bars": "s.bars",
    "rating": "s.rating",
    "duration": "(CAST(s.frames AS REAL) / s.sample_rate)",
    "id": "s.id",
}


def like_pattern(word: str) -> str:
    """`%word%` for LIKE ... ESCAPE '\\', with the word's own %, _ and \\ matched literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def where_clause(q: SampleQuery) -> tuple[str, list[Any]]:
    """Every filter of `q` ANDed, as a condition on `samples s`, and its parameters in order."""
    clauses = ["s.trashed_at IS NOT NULL" if q.trashed else "s.trashed_at IS NULL"]
    params: list[Any] = []
    for word in (q.text or "").casefold().split():
        clauses.append("s.search LIKE ? ESCAPE '\\'")
        params.append(like_pattern(word))
    if q.tags:
        marks = ", ".join("?" * len(q.tags))
        having = f" GROUP BY st.sample_id HAVING COUNT(*) = {len(q.tags)}" if q.tag_mode == "all" else ""
        clauses.append(
            f"s.id IN (SELECT st.sample_id FROM sample_tags st JOIN tags t ON t.id = st.tag_id "
            f"WHERE t.name IN ({marks}){having})"
        )
        params += q.tags
    if q.bpm_min is not None:
        clauses.append("s.bpm >= ?")
        params.append(float(q.bpm_min))
    if q.bpm_max is not None:
        clauses.append("s.bpm <= ?")
        params.append(float(q.bpm_max))
    if q.bars:
        clauses.append(f"s.bars IN ({', '.join('?' * len(q.bars))})")
        params += q.bars
    if q.rating_min is not None:
        clauses.append("s.rating >= ?")
        params.append(q.rating_min)
    if q.favourite is not None:
        clauses.append("s.favourite = ?")
        params.append(1 if q.favourite else 0)
    if q.sources:
        clauses.append(f"s.source IN ({', '.join('?' * len(q.sources))})")
        params += q.sources
    if q.parent_id is not None:
        clauses.append("s.parent_id = ?")
        params.append(int(q.parent_id))
    return " AND ".join(clauses), params


def page_ids_sql(q: SampleQuery) -> tuple[str, list[Any]]:
    """The ids of `q`'s page in its order (ties broken by id, the same way); a tempo-less or
    bar-less sample sorts last by bpm or bars in either direction."""
    where, params = where_clause(q)
    direction = "DESC" if q.descending else "ASC"
    sort = SORT_SQL[q.sort]
    nulls_last = f"{sort} IS NULL, " if q.sort in ("bpm", "bars") else ""
    sql = (
        f"SELECT s.id FROM samples s WHERE {where} "
        f"ORDER BY {nulls_last}{sort} {direction}, s.id {direction} LIMIT ? OFFSET ?"
    )
    return sql, [*params, -1 if q.limit is None else q.limit, q.offset]


def count_sql(q: SampleQuery) -> tuple[str, list[Any]]:
    """How many samples match `q`, paging ignored."""
    where, params = where_clause(q)
    return f"SELECT COUNT(*) FROM samples s WHERE {where}", params
