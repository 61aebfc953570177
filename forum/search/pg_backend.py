"""The PostgreSQL backend (``FORUM_SEARCH_BACKEND=postgres``): the index is two tables of
the forum's own database, so every app server searches the same, current index and
nothing lives in a process or a local folder.

``search_documents`` holds one row per visible post with a ``tsvector`` of the German
analysis (``forum.search.pg_scoring``) under a GIN index; ``search_terms`` is the lexicon
with document frequencies (``forum.search.pg_lexicon``), ``search_scope_terms`` the same per
cluster (0: the platform-wide boards) with each scope's post count and summed lengths: a
ranking sums the scopes its viewer may read, never the whole index (Issue 15, point 4). A search is one statement
for the candidates — the tsquery, the viewer's scope and the filters all in its ``WHERE`` — and
the ranking is the Whoosh backend's BM25F over what it returns. Writers are serialised by
an advisory lock (``writer_lock``, taken by ``forum.search.outbox``) and, inside each
write, by the lock on the generation row.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import time
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from whoosh import query as wq

from forum.extensions import db
from forum.search import analysis
from forum.search.backend import Hit, PostDocument, Query, Result, Scope
from forum.search.highlight import snippet
from forum.search.pg_lexicon import Lexicon, LexiconView
from forum.search.pg_scoring import (
    BODY,
    TITLE,
    Analysed,
    Candidates,
    Ranking,
    analyse,
    compile_query,
    field_of,
    lexeme,
    quantised,
    quote,
    ranked,
)
from forum.search.query import Marks, build, expansion, fuzzy_clause, parse
from forum.search.whoosh_backend import FEW_HITS, SUGGESTION_SAMPLE, _closest, _rewrite

LOCK_KEY = 0x5EA4C0   # the advisory lock of the index's writers (any constant the app uses once)

_COLUMNS = ("post_id", "thread_id", "board_id", "cluster_id", "author_id", "created_at", "is_first",
            "best_practice", "title", "body", "tags", "title_length", "body_length", "tsv")
_INSERT = text(
    f"INSERT INTO search_documents ({', '.join(_COLUMNS)}) VALUES ("
    + ", ".join(f":{c}" for c in _COLUMNS[:-4]) + ", CAST(:tags AS text[]), :title_length, :body_length, "
    "CAST(:tsv AS tsvector))")
_CANDIDATES = (
    "SELECT post_id, thread_id, created_at, title_length, body_length, "
    "CAST(ts_filter(setweight(tsv, 'D', CAST(:lexemes AS text[])), '{d}') AS text) "
    "FROM search_documents WHERE tsv @@ CAST(:match AS tsquery)")


def _row(doc: PostDocument, analysed: Analysed) -> tuple:
    return (doc.post_id, doc.thread_id, doc.board_id, doc.cluster_id, doc.author_id, doc.created_at, doc.is_first,
            doc.best_practice, doc.title.replace("\x00", ""), doc.body.replace("\x00", ""), list(doc.tags),
            analysed.title_length, analysed.body_length, analysed.tsv)


def scope_of(doc_cluster_id: int | None) -> int:
    """The permission scope of a post in ``search_scope_terms``: its cluster, 0 for the
    platform-wide boards."""
    return doc_cluster_id or 0


def readable_scopes(scope: Scope | None) -> Callable[[int], bool]:
    """Which scopes of ``search_scope_terms`` a viewer's statistics sum (Issue 15, point 4);
    without a ``Scope`` (no caller of the service) every one, the whole index."""
    if scope is None:
        return lambda _unit: True
    clusters, platform = scope.cluster_ids, scope.platform
    return lambda unit: platform if unit == 0 else clusters is None or unit in clusters


def _where(request: Query) -> tuple[str, dict, Callable[[int], bool]] | None:
    """The permission restriction and the user's filters as SQL, and which scopes the
    statistics of the ranking come from; ``None`` when the viewer may read nothing."""
    params: dict = {}
    scope = request.scope
    if scope is not None:
        place = None
        if scope.cluster_ids is None:
            place = "cluster_id IS NOT NULL"
        elif scope.cluster_ids:
            place = "cluster_id = ANY(CAST(:scope_clusters AS integer[]))"
            params["scope_clusters"] = sorted(scope.cluster_ids)
        if scope.platform:
            place = f"({place} OR cluster_id IS NULL)" if place else "cluster_id IS NULL"
        if place is None:
            return None
    elif request.board_ids:
        place, params["scope_boards"] = "board_id = ANY(CAST(:scope_boards AS integer[]))", sorted(request.board_ids)
    else:
        return None
    clauses = [place]
    for column, value in (("board_id", request.board_id), ("cluster_id", request.cluster_id),
                          ("author_id", request.author_id)):
        if value is not None:
            clauses.append(f"{column} = :f_{column}")
            params[f"f_{column}"] = value
    if request.tag:
        clauses.append(":f_tag = ANY(tags)")
        params["f_tag"] = request.tag
    if request.date_from:
        clauses.append("created_at >= :f_from")
        params["f_from"] = request.date_from
    if request.date_to:
        clauses.append("created_at <= :f_to")
        params["f_to"] = request.date_to
    return " AND ".join(clauses), params, readable_scopes(scope)


def _fetch(conn: Connection, sql: str, params: dict) -> list[tuple]:
    """All rows of a statement as plain tuples, straight from the driver's cursor: for the
    thousands of candidate rows a common word has, SQLAlchemy's row objects cost more than
    the rest of the ranking."""
    compiled = text(sql).compile(dialect=conn.dialect)
    cursor = conn.connection.cursor()
    try:
        # never a prepared statement: a generic plan cannot weigh the query's words and scope
        cursor.execute(str(compiled), {name: params[name] for name in compiled.params}, prepare=False)
        return cursor.fetchall()
    finally:
        cursor.close()


def _candidate_stems(parsed) -> list[str]:
    """Every stem the query builder may ask ``known`` about, to ask for them at once."""
    stems: list[str] = []
    for word in parsed.words:
        stems.extend(analysis.word_forms(word))
        for heads, tail in analysis.splits(word):
            stems.extend(analysis.stem(head) for head in heads)
            stems.append(analysis.stem(tail))
    return stems


class PgBackend:
    def __init__(self):
        self.lexicon = Lexicon()

    # -- the index itself -------------------------------------------------------------------
    def ready(self) -> bool:
        """The tables exist and the index was built (``search reindex`` or the start-up
        repair) at least once."""
        try:
            with db.engine.connect() as conn:
                return conn.scalar(text("SELECT 1 FROM search_terms WHERE field = '' AND term = 'rebuilt'")) is not None
        except SQLAlchemyError:
            return False

    def clean(self) -> None:
        """Empties the index (it is then not ``ready`` until rebuilt)."""
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM search_documents"))
            conn.execute(text("DELETE FROM search_terms"))
            conn.execute(text("DELETE FROM search_scope_terms"))

    @contextlib.contextmanager
    def writer_lock(self, wait: float = 0.0) -> Iterator[bool]:
        """A session-level advisory lock, shared by every process and server on the
        database; yields whether it was taken within ``wait`` seconds."""
        conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            deadline = time.monotonic() + wait
            while not conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}):
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.02)
            try:
                yield True
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                except SQLAlchemyError:
                    conn.invalidate()   # never hand a connection that may hold the lock back to the pool
        finally:
            conn.close()

    # -- writing ----------------------------------------------------------------------------
    @staticmethod
    def _next_generation(conn: Connection, rebuild: bool = False) -> int:
        """Raises the generation; the row stays locked until commit, so writes are serial. A
        rebuild jumps to the clock's milliseconds at least, so that even after a restored
        backup no process can take the new index for one it has seen."""
        floor = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint" if rebuild else "1"
        return conn.scalar(text(
            f"INSERT INTO search_terms (field, term, df, generation) VALUES ('', 'generation', {floor}, {floor}) "
            f"ON CONFLICT (field, term) DO UPDATE SET df = GREATEST(search_terms.df + 1, {floor}), "
            f"generation = GREATEST(search_terms.df + 1, {floor}) RETURNING df"))

    @staticmethod
    def _add_terms(conn: Connection, deltas: dict[tuple[str, str], int], generation: int, absolute: bool = False,
                   touch: bool = False) -> None:
        """Adds (or with ``absolute`` sets) document frequencies and stamps the terms with the
        generation; ``touch``: a delta of 0 stamps its term too (its statistics per scope
        changed, a post moved between clusters)."""
        changed = [(key, value) for key, value in deltas.items() if value or absolute or touch]
        if not changed:
            return
        new = "EXCLUDED.df" if absolute else "search_terms.df + EXCLUDED.df"
        conn.execute(text(
            "INSERT INTO search_terms (field, term, df, generation) "
            "SELECT field, term, df, :generation FROM unnest(CAST(:fields AS text[]), CAST(:terms AS text[]), "
            "CAST(:dfs AS bigint[])) AS u(field, term, df) "
            f"ON CONFLICT (field, term) DO UPDATE SET df = GREATEST({new}, 0), generation = EXCLUDED.generation"),
            {"generation": generation, "fields": [k[0] for k, _v in changed], "terms": [k[1] for k, _v in changed],
             "dfs": [v for _k, v in changed]})

    @staticmethod
    def _add_scope_terms(conn: Connection, deltas: dict[tuple[int, str, str], int]) -> None:
        """Adds to the document frequencies and totals per scope (``search_scope_terms``)."""
        changed = [(key, value) for key, value in deltas.items() if value]
        if not changed:
            return
        conn.execute(text(
            "INSERT INTO search_scope_terms (field, term, scope, df) "
            "SELECT field, term, scope, df FROM unnest(CAST(:fields AS text[]), CAST(:terms AS text[]), "
            "CAST(:scopes AS integer[]), CAST(:dfs AS bigint[])) AS u(field, term, scope, df) "
            "ON CONFLICT (field, term, scope) DO UPDATE SET df = GREATEST(search_scope_terms.df + EXCLUDED.df, 0)"),
            {"fields": [k[1] for k, _v in changed], "terms": [k[2] for k, _v in changed],
             "scopes": [k[0] for k, _v in changed], "dfs": [v for _k, v in changed]})

    def update(self, documents: Iterable[PostDocument], *, removed_posts: Iterable[int] = (),
               removed_threads: Iterable[int] = (), removed_boards: Iterable[int] = (),
               removed_clusters: Iterable[int] = ()) -> None:
        docs = [(doc, analyse(doc)) for doc in documents]
        posts = sorted(set(removed_posts) | {doc.post_id for doc, _a in docs})
        with db.engine.begin() as conn:
            generation = self._next_generation(conn)
            removed = conn.execute(text(
                "DELETE FROM search_documents WHERE post_id = ANY(CAST(:posts AS integer[])) "
                "OR thread_id = ANY(CAST(:threads AS integer[])) OR board_id = ANY(CAST(:boards AS integer[])) "
                "OR cluster_id = ANY(CAST(:clusters AS integer[])) "
                "RETURNING cluster_id, title_length, body_length, tsvector_to_array(tsv)"),
                {"posts": posts, "threads": sorted(set(removed_threads)), "boards": sorted(set(removed_boards)),
                 "clusters": sorted(set(removed_clusters))}).all()
            if docs:
                conn.execute(_INSERT, [dict(zip(_COLUMNS, _row(doc, analysed), strict=True)) for doc, analysed in docs])
            deltas: dict[tuple[str, str], int] = collections.defaultdict(int)
            scoped: dict[tuple[int, str, str], int] = collections.defaultdict(int)   # (scope, field, term)
            totals = {"docs": len(docs) - len(removed), TITLE: 0, BODY: 0}
            changes = [(-1, cluster_id, title_length, body_length, map(field_of, lexemes))
                       for cluster_id, title_length, body_length, lexemes in removed]
            changes += [(1, doc.cluster_id, analysed.title_length, analysed.body_length, analysed.terms)
                        for doc, analysed in docs]
            for sign, cluster_id, title_length, body_length, pairs in changes:
                unit = scope_of(cluster_id)
                totals[TITLE] += sign * title_length
                totals[BODY] += sign * body_length
                scoped[(unit, "", "docs")] += sign
                scoped[(unit, "", TITLE)] += sign * quantised(title_length)
                scoped[(unit, "", BODY)] += sign * quantised(body_length)
                for field, term in pairs:
                    deltas[(field, term)] += sign
                    scoped[(unit, field, term)] += sign
            touched = {(field, term) for (_unit, field, term), value in scoped.items() if value and field}
            self._add_terms(conn, {pair: deltas[pair] for pair in touched}, generation, touch=True)
            self._add_terms(conn, {("", name): value for name, value in totals.items()}, generation)
            self._add_scope_terms(conn, scoped)

    def reindex(self, documents: Iterable[PostDocument], progress: Callable[[int], None] | None = None) -> int:
        """Replaces everything in one transaction: searches see the old index until the new
        one is complete."""
        by_scope: dict[int, collections.Counter[tuple[str, str]]] = collections.defaultdict(collections.Counter)
        scope_totals: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        totals = {"docs": 0, TITLE: 0, BODY: 0}
        with db.engine.begin() as conn:
            generation = self._next_generation(conn, rebuild=True)
            conn.execute(text("DELETE FROM search_documents"))
            conn.execute(text("DELETE FROM search_terms WHERE field <> ''"))
            conn.execute(text("DELETE FROM search_scope_terms"))
            cursor = conn.connection.driver_connection.cursor()
            with cursor.copy(f"COPY search_documents ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                for doc in documents:
                    analysed = analyse(doc)
                    copy.write_row(_row(doc, analysed))
                    unit = scope_of(doc.cluster_id)
                    by_scope[unit].update(analysed.terms)
                    scope_totals[unit].update({"docs": 1, TITLE: quantised(analysed.title_length),
                                               BODY: quantised(analysed.body_length)})
                    totals["docs"] += 1
                    totals[TITLE] += analysed.title_length
                    totals[BODY] += analysed.body_length
                    if progress:
                        progress(1)
            counts: collections.Counter[tuple[str, str]] = collections.Counter()
            with cursor.copy("COPY search_scope_terms (field, term, scope, df) FROM STDIN") as copy:
                for unit, found in by_scope.items():
                    counts.update(found)
                    for (field, term), df in found.items():
                        copy.write_row((field, term, unit, df))
                    for name, value in scope_totals[unit].items():
                        copy.write_row(("", name, unit, value))
            with cursor.copy("COPY search_terms (field, term, df, generation) FROM STDIN") as copy:
                for (field, term), df in counts.items():
                    copy.write_row((field, term, df, generation))
            totals["rebuilt"] = generation
            self._add_terms(conn, {("", name): value for name, value in totals.items()}, generation, absolute=True)
        # the old rows are dead now: reclaim them (and merge the GIN pending list) so that plans
        # and index scans are as good as for a fresh table
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE search_documents"))
            conn.execute(text("VACUUM ANALYZE search_terms"))
            conn.execute(text("VACUUM ANALYZE search_scope_terms"))
        return totals["docs"]

    def indexed(self) -> dict[int, int]:
        with db.engine.connect() as conn:
            return dict(conn.execute(text("SELECT post_id, board_id FROM search_documents")).all())

    # -- reading ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _reading(self) -> Iterator[LexiconView]:
        with db.engine.connect() as conn:
            self.lexicon.refresh(conn)
            yield self.lexicon.view(conn)

    def _rank(self, view: LexiconView, q: wq.Query, where: tuple, newest: bool = False,
              groups: list[tuple[str, ...]] | None = None) -> tuple[Ranking | None, dict]:
        compiled = compile_query(q)
        if not compiled.match:
            return None, {}
        sql, params, readable = where
        statement = _CANDIDATES
        if compiled.excluded:
            statement += " AND NOT tsv @@ CAST(:excluded AS tsquery)"
        rows = _fetch(view.conn, f"{statement} AND {sql} ORDER BY post_id", {
            **params, "lexemes": compiled.lexemes, "match": compiled.match, "excluded": compiled.excluded})
        view.prefetch_scoped(compiled.leaves + [(BODY, term) for group in groups or () for term in group])
        # idf and average lengths of what the viewer may read only (Issue 15, point 4)
        ranking = Ranking(Candidates(rows), view.stats(readable))
        return ranking, ranking.best_per_thread(q, newest, groups)

    @staticmethod
    def _stored(view: LexiconView, post_ids: list[int]) -> dict[int, tuple]:
        rows = view.conn.execute(text(
            "SELECT post_id, thread_id, board_id, title, body, created_at FROM search_documents "
            "WHERE post_id = ANY(CAST(:ids AS integer[]))"), {"ids": post_ids}).all()
        return {row[0]: row for row in rows}

    def search(self, request: Query) -> Result:
        where = _where(request)
        if where is None:
            return Result([], 0)
        parsed = parse(request.text)
        marks = Marks()
        with self._reading() as view:
            stems = _candidate_stems(parsed)
            view.prefetch_known(stems)
            view.prefetch_scoped((field, stem) for stem in stems if view.known(stem) for field in (TITLE, BODY))
            readable = where[2]
            # prefixes and compound parts stand for terms chosen by readable posts only (Issue 15, point 4)
            scopes = view.scopes(readable)
            expand = functools.partial(view.expand, scopes=scopes)
            contains = functools.partial(view.contains, scopes=scopes)

            def known(stem: str) -> bool:   # a word of a post the viewer may read (Issue 15, point 4)
                return view.known(stem) and view.known_in(stem, readable)

            parts = [part for part in map(analysis.part_key, parsed.words) if part]
            view.prefetch_contains(((field, part) for part in parts for field in (BODY, TITLE)), scopes)
            text_query = build(parsed, marks, known=known, expand=expand, contains=contains)
            if text_query is None:
                return Result([], 0)
            total, hits, ranking = self._collect(view, text_query, where, request, marks)
            suggestion = None
            # without ``-wort`` the candidates are every visible post with a word of the query
            seen = ranking.c if ranking is not None and not isinstance(text_query, wq.AndNot) else None
            corrected = self._correct(view, parsed, where, marks, seen) if parsed.words else None
            if corrected:
                replacements, extra = corrected
                suggestion = _rewrite(request.text, replacements)
                if total < FEW_HITS:
                    text_query = build(parsed, marks, extra, known, expand, contains)
                    total, hits, _ranking = self._collect(view, text_query, where, request, marks)
        return Result(hits, total, suggestion)

    def _collect(self, view: LexiconView, text_query: wq.Query, where, request: Query,
                 marks: Marks) -> tuple[int, list[Hit], Ranking | None]:
        newest = request.sort == "newest"
        ranking, best = self._rank(view, text_query, where, newest, marks.groups)
        total = len(best)
        if ranking is None or total == 0 or request.offset >= total:
            return total, [], ranking
        wanted = request.offset + request.limit
        page = ranked(best, wanted, newest)[request.offset:wanted]
        stored = self._stored(view, [ranking.c.post_ids[d] for _key, d, _score in page])
        hits = []
        for _key, d, score in page:
            row = stored.get(ranking.c.post_ids[d])
            if row is None:    # removed since the candidates were read
                continue
            post_id, thread_id, board_id, title, body, created_at = row
            hits.append(Hit(post_id=post_id, thread_id=thread_id, board_id=board_id, title=title,
                            snippet_html=snippet(body, marks), score=round(float(score), 4), created_at=created_at))
        return total, hits, ranking

    def _sample(self, view: LexiconView, q: wq.Query, where) -> list[tuple[str, str]]:
        """(title, body) of the best visible posts for ``q`` (corrections, completions)."""
        ranking, best = self._rank(view, q, where)
        if ranking is None:
            return []
        post_ids = [ranking.c.post_ids[d] for _key, d, _score in ranked(best, SUGGESTION_SAMPLE, False)]
        stored = self._stored(view, post_ids)
        return [(stored[p][3], stored[p][4]) for p in post_ids if p in stored]

    @staticmethod
    def _visible(view: LexiconView, words: list[tuple[str, ...]], where,
                 seen: Candidates | None = None) -> set[tuple[str, ...]]:
        """Of the words (each as its forms), those that some post the viewer may see has in
        its title or body: read off ``seen`` (candidates of every visible post with one of
        the words), else one statement for all of them."""
        if not words:
            return set()
        if seen is not None:
            return {forms for forms in words
                    if any(seen.postings.get(lexeme(field, form)) for form in forms for field in (TITLE, BODY))}
        sql, params, _readable = where
        matches = [" | ".join(quote(lexeme(field, form)) for form in forms for field in (TITLE, BODY))
                   for forms in words]
        found = view.conn.scalars(text(
            "SELECT m.i FROM unnest(CAST(:matches AS text[])) WITH ORDINALITY AS m(q, i) WHERE EXISTS ("
            f"SELECT 1 FROM search_documents WHERE tsv @@ CAST(m.q AS tsquery) AND {sql})"),
            {**params, "matches": matches}).all()
        return {words[i - 1] for i in found}

    def _correct(self, view: LexiconView, parsed, where, marks: Marks, seen: Candidates | None = None):
        """``WhooshBackend._correct``: words that occur in no post the viewer may see,
        replaced by the closest word of the visible posts a fuzzy query finds."""
        replacements: dict[str, str] = {}
        extra: list[wq.Query] = []
        words = {}
        for word in dict.fromkeys(parsed.words):
            forms = analysis.word_forms(word)
            if forms and len(forms[0]) >= 4 and not forms[0].isdigit():
                words[word] = forms
        visible = self._visible(view, [f for f in words.values() if any(view.known(form) for form in f)], where, seen)
        for word, forms in words.items():
            if forms in visible:
                continue
            maxdist = 1 if len(forms[0]) <= 6 else 2
            fuzzy = fuzzy_clause(forms[0], maxdist, view.near(forms[0], maxdist))
            if fuzzy is None:
                continue
            texts = [f"{title}\n{body}" for title, body in self._sample(view, fuzzy, where)]
            best = _closest(forms[0], maxdist, texts)
            if best:
                replacements[word] = best
                extra.append(fuzzy)
                marks.stems.update(analysis.word_forms(best))
        return (replacements, extra) if replacements else None

    def warm_up(self) -> None:
        """Nothing to read ahead: the index lives in the database, and the vocabulary a
        process remembers is fetched with the first search that needs it."""

    def suggest(self, prefix: str, scope: Scope, limit: int = 8) -> list[str]:
        folded = analysis.fold(prefix.strip())
        where = _where(Query("", frozenset(), scope=scope))
        if len(folded) < 2 or where is None or not analysis.WORD.fullmatch(folded):
            return []
        key = analysis.stem(folded)
        counts: collections.Counter[str] = collections.Counter()
        spelling: dict[str, str] = {}
        with self._reading() as view:
            expand = functools.partial(view.expand, scopes=view.scopes(where[2]))   # completions of readable words only
            clauses = [c for c in (expansion(TITLE, key, 2.0, expand), expansion(BODY, key, 1.0, expand)) if c]
            if not clauses:
                return []
            for title, body in self._sample(view, wq.DefaultOr(clauses), where):
                for word in analysis.words(f"{title}\n{body}"):
                    word_folded = analysis.fold(word)
                    if word_folded.startswith(folded) and len(word) > 2:
                        counts[word_folded] += 1
                        spelling.setdefault(word_folded, word)
        return [spelling[w] for w, _count in counts.most_common(limit)]
