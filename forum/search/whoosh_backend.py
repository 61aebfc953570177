"""The default backend: a Whoosh index in ``SEARCH_DIR``, one document per visible post.

The ``Index`` object is kept per process and each thread keeps a searcher that it only
refreshes (cheap when nothing changed). Writers are serialised by ``forum.search.outbox``;
Whoosh's own lock is the second line of defence.
"""
from __future__ import annotations

import collections
import re
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from whoosh import index as windex, query as wq, scoring, writing
from whoosh.fields import BOOLEAN, DATETIME, ID, KEYWORD, TEXT, Schema

from forum.search import analysis
from forum.search.backend import Hit, PostDocument, Query, Result
from forum.search.highlight import snippet
from forum.search.query import Marks, build, fuzzy_clause, parse, word_query

FEW_HITS = 3            # below this many threads, fuzzy matches of typos join the results
WRITE_TIMEOUT = 30.0    # seconds to wait for Whoosh's own writer lock
SUGGESTION_SAMPLE = 20  # visible posts a correction or completion is drawn from
LOCK_NAME = "drain.lock"  # the outbox drainer's lock file lives beside the index


def schema() -> Schema:
    german = analysis.german_analyzer()
    return Schema(
        post_id=ID(stored=True, unique=True, sortable=True),
        thread_id=ID(stored=True, sortable=True),
        board_id=ID(stored=True, sortable=True),
        cluster_id=ID(stored=True),
        author_id=ID(),
        author=TEXT(analyzer=analysis.name_analyzer(), phrase=False),
        title=TEXT(analyzer=german, stored=True),
        body=TEXT(analyzer=german, stored=True),
        parts=TEXT(analyzer=analysis.parts_analyzer(), phrase=False),
        tags=KEYWORD(stored=True),
        created_at=DATETIME(stored=True, sortable=True),
        is_first=BOOLEAN(stored=True),
        best_practice=BOOLEAN(stored=True),
    )


def _fields(doc: PostDocument) -> dict:
    return {
        "post_id": str(doc.post_id), "thread_id": str(doc.thread_id), "board_id": str(doc.board_id),
        "cluster_id": str(doc.cluster_id or 0), "author_id": str(doc.author_id or 0), "author": doc.author,
        "title": doc.title, "body": doc.body, "parts": f"{doc.title}\n{doc.body}", "tags": " ".join(doc.tags),
        "created_at": doc.created_at, "is_first": doc.is_first, "best_practice": doc.best_practice,
    }


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


class WhooshBackend:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._index: windex.FileIndex | None = None
        self._local = threading.local()

    # -- the index itself -------------------------------------------------------------------
    def ready(self) -> bool:
        try:
            ix = windex.open_dir(str(self.directory))
            if set(ix.schema.names()) != set(schema().names()):
                return False
            with ix.searcher() as searcher:
                searcher.doc_count()
            return True
        except Exception:  # missing, empty, corrupt or from an older schema: all mean rebuild
            return False

    def _open(self) -> windex.FileIndex:
        if self._index is None:
            self._index = windex.open_dir(str(self.directory))
        return self._index

    def create(self) -> windex.FileIndex:
        """An empty index; whatever was in the folder (a broken index) is removed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in self.directory.iterdir():
            if path.name != LOCK_NAME:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        self._forget()
        self._index = windex.create_in(str(self.directory), schema())
        return self._index

    def _forget(self) -> None:
        searcher = getattr(self._local, "searcher", None)
        if searcher is not None:
            searcher.close()
            self._local.searcher = None
        self._index = None

    def _searcher(self):
        searcher = getattr(self._local, "searcher", None)
        if searcher is None:
            searcher = self._open().searcher(weighting=scoring.BM25F())
        else:
            # The fresh searcher reuses the old one's unchanged segment readers, so the old
            # one must not be closed; what it alone held is released when it is collected.
            searcher = searcher.refresh()
        self._local.searcher = searcher
        return searcher

    # -- writing ----------------------------------------------------------------------------
    def update(self, documents: Iterable[PostDocument], *, removed_posts: Iterable[int] = (),
               removed_threads: Iterable[int] = (), removed_boards: Iterable[int] = (),
               removed_clusters: Iterable[int] = ()) -> None:
        writer = self._open().writer(timeout=WRITE_TIMEOUT)
        try:
            removals = (("post_id", removed_posts), ("thread_id", removed_threads), ("board_id", removed_boards),
                        ("cluster_id", removed_clusters))
            for field, ids in removals:
                for object_id in ids:
                    writer.delete_by_term(field, str(object_id))
            for doc in documents:
                writer.update_document(**_fields(doc))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    def reindex(self, documents: Iterable[PostDocument], progress: Callable[[int], None] | None = None) -> int:
        ix = self._open() if self.ready() else self.create()
        writer = ix.writer(timeout=WRITE_TIMEOUT, limitmb=256)
        count = 0
        try:
            for doc in documents:
                writer.add_document(**_fields(doc))
                count += 1
                if progress:
                    progress(1)
        except BaseException:
            writer.cancel()
            raise
        writer.commit(mergetype=writing.CLEAR)
        return count

    def indexed(self) -> dict[int, int]:
        with self._open().searcher() as searcher:
            reader = searcher.reader()
            posts, boards = reader.column_reader("post_id"), reader.column_reader("board_id")
            return {int(posts[d]): int(boards[d]) for d in reader.all_doc_ids()}

    # -- reading ----------------------------------------------------------------------------
    def search(self, request: Query) -> Result:
        if not request.board_ids:
            return Result([], 0)
        parsed = parse(request.text)
        marks = Marks()
        searcher = self._searcher()
        reader = searcher.reader()

        def known(stem: str) -> bool:
            return reader.doc_frequency("body", stem) > 0 or reader.doc_frequency("title", stem) > 0

        text_query = build(parsed, marks, known=known)
        if text_query is None:
            return Result([], 0)
        restriction = _restriction(request)
        total, hits = self._collect(searcher, _restricted(text_query, restriction), request, marks)
        suggestion = None
        corrected = self._correct(searcher, parsed, restriction, marks) if parsed.words else None
        if corrected:
            replacements, extra = corrected
            suggestion = _rewrite(request.text, replacements)
            if total < FEW_HITS:
                text_query = build(parsed, marks, extra, known)
                total, hits = self._collect(searcher, _restricted(text_query, restriction), request, marks)
        return Result(hits, total, suggestion)

    def _collect(self, searcher, full: wq.Query, request: Query, marks: Marks) -> tuple[int, list[Hit]]:
        threads = searcher.reader().column_reader("thread_id")
        total = len({threads[d] for d in searcher.docs_for_query(full)})
        if total == 0 or request.offset >= total:
            return total, []
        options: dict = {"limit": request.offset + request.limit, "collapse": "thread_id"}
        if request.sort == "newest":
            options.update(sortedby="created_at", reverse=True)
        results = searcher.search(full, **options)
        hits = []
        for hit in results[request.offset:request.offset + request.limit]:
            stored = hit.fields()
            hits.append(Hit(
                post_id=int(stored["post_id"]), thread_id=int(stored["thread_id"]), board_id=int(stored["board_id"]),
                title=stored["title"], snippet_html=snippet(stored["body"], marks),
                score=round(float(hit.score or 0.0), 4), created_at=stored["created_at"],
            ))
        return total, hits

    def _correct(self, searcher, parsed, restriction, marks):
        """Typos: words that occur in no post the viewer may see (as a word of their own),
        replaced by the closest word of the visible posts a fuzzy query finds. The
        candidates come only from those visible posts, never from elsewhere."""
        replacements: dict[str, str] = {}
        extra: list[wq.Query] = []
        for word in dict.fromkeys(parsed.words):
            forms = analysis.word_forms(word)
            if not forms or len(forms[0]) < 4 or forms[0].isdigit():
                continue
            if _any(searcher, _restricted(word_query(forms), restriction)):
                continue
            maxdist = 1 if len(forms[0]) <= 6 else 2
            fuzzy = fuzzy_clause(forms[0], maxdist)
            found = searcher.search(_restricted(fuzzy, restriction), limit=SUGGESTION_SAMPLE)
            texts = [f"{hit['title']}\n{hit['body']}" for hit in found]
            best = _closest(forms[0], maxdist, texts)
            if best:
                replacements[word] = best
                extra.append(fuzzy)
                marks.stems.update(analysis.word_forms(best))
        return (replacements, extra) if replacements else None

    def suggest(self, prefix: str, board_ids: frozenset[int], limit: int = 8) -> list[str]:
        folded = analysis.fold(prefix.strip())
        if len(folded) < 2 or not board_ids or not analysis.WORD.fullmatch(folded):
            return []
        key = analysis.stem(folded)
        wanted = wq.Or([wq.Prefix("title", key, boost=2.0), wq.Prefix("body", key)])
        searcher = self._searcher()
        found = searcher.search(_restricted(wanted, _restriction(Query("", board_ids))), limit=SUGGESTION_SAMPLE)
        counts: collections.Counter[str] = collections.Counter()
        spelling: dict[str, str] = {}
        for hit in found:
            for word in analysis.words(f"{hit['title']}\n{hit['body']}"):
                word_folded = analysis.fold(word)
                if word_folded.startswith(folded) and len(word) > 2:
                    counts[word_folded] += 1
                    spelling.setdefault(word_folded, word)
        return [spelling[w] for w, _count in counts.most_common(limit)]


def _restriction(request: Query) -> wq.Query:
    """The permission restriction and the user's filters, applied inside the query."""
    parts: list[wq.Query] = [wq.Or([wq.Term("board_id", str(b), boost=0.0) for b in sorted(request.board_ids)])]
    if request.cluster_id is not None:
        parts.append(wq.Term("cluster_id", str(request.cluster_id), boost=0.0))
    if request.board_id is not None:
        parts.append(wq.Term("board_id", str(request.board_id), boost=0.0))
    if request.tag:
        parts.append(wq.Term("tags", request.tag, boost=0.0))
    if request.author_id is not None:
        parts.append(wq.Term("author_id", str(request.author_id), boost=0.0))
    if request.date_from or request.date_to:
        parts.append(wq.DateRange("created_at", request.date_from, request.date_to))
    return parts[0] if len(parts) == 1 else wq.And(parts)


def _restricted(text_query: wq.Query, restriction: wq.Query) -> wq.Query:
    """Both must match; the restriction's terms carry boost 0, so only the text scores.
    Not ``wq.Require`` (Whoosh 2.7.4 builds an AND NOT matcher for it: the permission
    restriction would turn into its opposite), nor ``filter=`` or ``ConstantScoreQuery``
    (both materialise every allowed document on each search)."""
    return wq.And([text_query, restriction])


def _any(searcher, q: wq.Query) -> bool:
    return next(iter(searcher.docs_for_query(q)), None) is not None


def _closest(stem: str, maxdist: int, texts: list[str]) -> str | None:
    """The most frequent word within ``maxdist`` edits of ``stem`` in ``texts``."""
    counts: collections.Counter[tuple[int, str]] = collections.Counter()
    spelling: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for text in texts:
        for word in analysis.words(text):
            forms = analysis.word_forms(word)
            if not forms or forms[0] == stem or abs(len(forms[0]) - len(stem)) > maxdist:
                continue
            distance = edit_distance(forms[0], stem)
            if distance <= maxdist:
                counts[(distance, forms[0])] += 1
                spelling[forms[0]][word] += 1
    if not counts:
        return None
    (_distance, best), _count = min(counts.items(), key=lambda item: (item[0][0], -item[1]))
    return spelling[best].most_common(1)[0][0]


def _rewrite(text: str, replacements: dict[str, str]) -> str:
    for wrong, right in replacements.items():
        text = re.sub(rf"(?<!\w){re.escape(wrong)}(?!\w)", right, text)
    return text
