"""The default backend: a Whoosh index in ``SEARCH_DIR``, one document per visible post.

The ``Index`` object is kept per process and each thread keeps a searcher that it only
replaces when the index generation changed; answers that depend only on the index (known
words, prefix expansions, each segment's thread ids) are cached per generation or segment
(``forum.search.caches``). The permission restriction is a few terms of the ``scope``
field (one per readable cluster, ``platform`` for the platform-wide boards), not a list of
board ids. Writers are serialised by ``forum.search.outbox``;
Whoosh's own lock is the second line of defence.
"""
from __future__ import annotations

import collections
import contextlib
import ctypes
import itertools
import json
import multiprocessing.util
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from whoosh import index as windex, query as wq, scoring, writing
from whoosh.codec import whoosh3
from whoosh.fields import BOOLEAN, DATETIME, ID, KEYWORD, TEXT, Schema

from forum.search import analysis
from forum.search.backend import Hit, PostDocument, Query, Result, Scope
from forum.search.caches import Generation as _Generation
from forum.search.highlight import snippet
from forum.search.query import MAX_EXPANSION, Marks, build, expansion, fuzzy_clause, parse
from forum.search.scoring import Filters, ScopeStats, Scorer, SegmentData, best_per_thread

FEW_HITS = 3            # below this many threads, fuzzy matches of typos join the results
WRITE_TIMEOUT = 30.0    # seconds to wait for Whoosh's own writer lock
SUGGESTION_SAMPLE = 20  # visible posts a correction or completion is drawn from
REINDEX_PROCS = max(1, min(4, os.cpu_count() or 1))   # a full rebuild analyses on every core
REINDEX_MB = 512        # Whoosh's sorting pool per rebuild process (FORUM_SEARCH_REINDEX_MB)
MERGE_LIMIT = 50_000    # posts: larger segments are never merged by a drain (_merge_small_segments)
SMALL_REBUILD = 200     # up to this many posts a rebuild runs in this process (forking costs more)
LOCK_NAME = "drain.lock"  # the outbox drainer's lock file lives beside the index
STALE_NAME = "STALE"      # while it exists the index counts as broken (rebuild from scratch, restore)
# Segments as separate files, not one compound file: Whoosh serves each part of a compound
# file through an in-memory copy (BytesIO over the mmap), so every worker held a copy of the
# index's postings and stored texts — 32 MB at 20,000 posts, gigabytes at a million. Separate
# files are opened lazily, so the files of merged-away segments are deleted only after a grace
# period (``_clean_files``).
SEGMENT_FILES = {"compound": False}
RETIRED_NAME = "retired.json"   # files of merged-away segments → when they stopped being used
RETIRE_AFTER = 600.0            # seconds such files are kept for searchers opened before
# created_at is read from its column (date filters, "newest first"), never searched by range:
# one term per post instead of Whoosh's eight precision steps (a fifth of all postings).
DATE_SHIFT = 0
CLUSTERS = "cluster"      # scope term of every post in some cluster
PLATFORM = "platform"     # scope term of the posts on platform-wide boards


def schema() -> Schema:
    german = analysis.german_analyzer()
    created_at = DATETIME(stored=True, sortable=True)
    created_at.shift_step = DATE_SHIFT   # DATETIME takes no shift_step argument
    return Schema(
        post_id=ID(stored=True, unique=True, sortable=True),
        thread_id=ID(stored=True, sortable=True),
        board_id=ID(stored=True, sortable=True),
        cluster_id=ID(stored=True),
        scope=KEYWORD(),
        author_id=ID(),
        author=TEXT(analyzer=analysis.name_analyzer(), phrase=False),
        # phrases are looked up in the pairs fields (no comparing of positions); only the
        # body keeps positions, for the proximity bonus of the best few posts
        title=TEXT(analyzer=german, stored=True, phrase=False),
        body=TEXT(analyzer=german, stored=True),
        title_pairs=KEYWORD(lowercase=False, scorable=False),
        body_pairs=KEYWORD(lowercase=False, scorable=False),
        tags=KEYWORD(stored=True),
        created_at=created_at,
        is_first=BOOLEAN(stored=True),
        best_practice=BOOLEAN(stored=True),
    )


def _fields(doc: PostDocument) -> dict:
    return {
        "post_id": str(doc.post_id), "thread_id": str(doc.thread_id), "board_id": str(doc.board_id),
        "cluster_id": str(doc.cluster_id or 0),
        "scope": PLATFORM if doc.cluster_id is None else f"c{doc.cluster_id} {CLUSTERS}",
        "author_id": str(doc.author_id or 0), "author": doc.author,
        "title": doc.title, "body": doc.body, "tags": " ".join(doc.tags),
        "title_pairs": " ".join(analysis.pairs(doc.title)), "body_pairs": " ".join(analysis.pairs(doc.body)),
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
    def __init__(self, directory: str | Path, reindex_mb: int = REINDEX_MB):
        self.directory = Path(directory)
        self.reindex_mb = reindex_mb
        self._index: windex.FileIndex | None = None
        self._local = threading.local()
        self._cache: _Generation | None = None
        self._segments: dict[str, SegmentData] = {}

    # -- the index itself -------------------------------------------------------------------
    def ready(self) -> bool:
        return not (self.directory / STALE_NAME).exists() and self._opens()

    def _opens(self) -> bool:
        try:
            ix = windex.open_dir(str(self.directory))
            if set(ix.schema.names()) != set(schema().names()) \
                    or getattr(ix.schema["created_at"], "shift_step", None) != DATE_SHIFT:
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

    def mark_stale(self) -> None:
        """Until the next complete ``reindex`` the index counts as broken, so the
        worker rebuilds it (``service.repair``) and ``/readyz`` answers 503."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / STALE_NAME).touch()
        folder = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def create(self) -> windex.FileIndex:
        """An empty index; whatever was in the folder (a broken index) is removed. It stays
        stale until ``reindex`` has filled it: a rebuild killed half-way must not leave an
        empty index that opens and so passes for a good one."""
        self.mark_stale()
        for path in self.directory.iterdir():
            if path.name not in (LOCK_NAME, STALE_NAME):
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
        self._cache = None
        self._segments = {}

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
        writer = self._open().writer(timeout=WRITE_TIMEOUT, **SEGMENT_FILES)
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
        try:
            writer.commit(mergetype=_merge_small_segments)
        except BaseException:
            # Whoosh releases its writer lock only at the end of a commit that succeeded; held on,
            # every later write of this process would wait WRITE_TIMEOUT and fail (found by fuzzing).
            if writer.writelock is not None and not writer.is_closed:
                writer.writelock.release()
            raise

    def reindex(self, documents: Iterable[PostDocument], progress: Callable[[int], None] | None = None) -> int:
        ix = self._open() if self._opens() else self.create()
        documents = iter(documents)
        first = list(itertools.islice(documents, SMALL_REBUILD + 1))
        if len(first) <= SMALL_REBUILD:
            writer = ix.writer(timeout=WRITE_TIMEOUT, **SEGMENT_FILES)
        else:
            writer = ix.writer(timeout=WRITE_TIMEOUT, procs=REINDEX_PROCS, multisegment=True, limitmb=self.reindex_mb,
                               **SEGMENT_FILES)
            _die_with_this_process(writer)
        count = 0
        try:
            for doc in itertools.chain(first, documents):
                writer.add_document(**_fields(doc))
                count += 1
                if progress:
                    progress(1)
        except BaseException:
            writer.cancel()
            for task in getattr(writer, "tasks", ()):   # Whoosh's cancel never reaches its subprocesses
                task.kill()
                task.join()
            raise
        writer.commit(mergetype=writing.CLEAR)
        (self.directory / STALE_NAME).unlink(missing_ok=True)
        return count

    def indexed(self) -> dict[int, int]:
        with self._open().searcher() as searcher:
            reader = searcher.reader()
            if reader.doc_count_all() == 0:   # no segment at all: Whoosh has no columns to read
                return {}
            posts, boards = reader.column_reader("post_id"), reader.column_reader("board_id")
            return {int(posts[d]): int(boards[d]) for d in reader.all_doc_ids()}

    # -- reading ----------------------------------------------------------------------------
    def _generation(self, searcher) -> _Generation:
        """Per-index-generation caches, shared by the threads of this process."""
        key = searcher.reader().generation()
        generation = self._cache
        if generation is None or generation.key != key:
            generation = self._cache = _Generation(key, searcher, MAX_EXPANSION, self._segment)
        return generation

    def _segment(self, reader) -> SegmentData:
        """Per-segment columns (``scoring.SegmentData``), kept while the segment lives. A
        reader of several segments at once (Whoosh's ``MultiReader``) has no segment of its
        own: it is keyed by its segments' ids. An index with no segment at all is answered
        before any segment is read (``_empty``)."""
        segment = reader.segment()
        if segment is not None:
            key = segment.segment_id()
        else:
            key = "+".join(sub.segment().segment_id() for sub, _offset in reader.leaf_readers())
        found = self._segments.get(key)
        if found is None:
            if len(self._segments) > 64:
                self._segments.clear()
            found = self._segments[key] = SegmentData(reader)
        return found.follow(reader)

    def warm_up(self) -> None:
        """Opens the searcher and reads every segment's columns (thread, date, field
        lengths): at a million posts about 0.1 s of the first search of each new worker (the
        rest, about 0.25 s, is its own terms' postings and the viewer's permission masks)."""
        searcher = self._searcher()
        if _empty(searcher):
            return
        self._generation(searcher)
        for leaf, _offset in searcher.leaf_searchers():
            self._segment(leaf.reader())

    def search(self, request: Query) -> Result:
        filters = _filters(request)
        if filters is None:
            return Result([], 0)
        parsed = parse(request.text)
        marks = Marks()
        searcher = self._searcher()
        if _empty(searcher):
            return Result([], 0)
        cache = self._generation(searcher)
        stats = ScopeStats(searcher, self._segment, filters, cache.scoped)

        def known(stem: str) -> bool:   # a word of a post the viewer may read (Issue 15, point 4)
            return cache.known(stem) and stats.known(stem)

        # prefixes and compound parts stand for terms chosen by readable posts only (Issue 15, point 4)
        text_query = build(parsed, marks, known=known, expand=stats.expand, contains=stats.contains)
        if text_query is None:
            return Result([], 0)
        total, hits = self._collect(searcher, text_query, filters, request, marks)
        suggestion = None
        corrected = self._correct(searcher, cache, parsed, filters, marks) if parsed.words else None
        if corrected:
            replacements, extra = corrected
            suggestion = _rewrite(request.text, replacements)
            if total < FEW_HITS:
                text_query = build(parsed, marks, extra, known, stats.expand, stats.contains)
                total, hits = self._collect(searcher, text_query, filters, request, marks)
        return Result(hits, total, suggestion)

    def _best(self, searcher, q: wq.Query, filters: Filters, newest: bool = False, groups=None):
        # idf and average lengths of what the viewer may read only (Issue 15, point 4)
        stats = ScopeStats(searcher, self._segment, filters, self._generation(searcher).scoped)
        return best_per_thread(searcher, Scorer(stats, stats.doc_frequency), self._segment, q, filters, newest, groups)

    def _collect(self, searcher, text_query: wq.Query, filters: Filters, request: Query,
                 marks: Marks) -> tuple[int, list[Hit]]:
        best = self._best(searcher, text_query, filters, request.sort == "newest", marks.groups)
        total = len(best)
        if total == 0 or request.offset >= total:
            return total, []
        wanted = request.offset + request.limit
        ranked = best.top(wanted)
        hits = []
        for _key, docnum, score in ranked[request.offset:wanted]:
            stored = searcher.stored_fields(docnum)
            hits.append(Hit(
                post_id=int(stored["post_id"]), thread_id=int(stored["thread_id"]), board_id=int(stored["board_id"]),
                title=stored["title"], snippet_html=snippet(stored["body"], marks),
                score=round(float(score), 4), created_at=stored["created_at"],
            ))
        return total, hits

    def _sample(self, searcher, q: wq.Query, filters: Filters) -> list[dict]:
        """Stored fields of the best visible posts for ``q`` (corrections, completions)."""
        best = self._best(searcher, q, filters).top(SUGGESTION_SAMPLE)
        return [searcher.stored_fields(docnum) for _key, docnum, _score in best]

    def _visible(self, searcher, forms: tuple[str, ...], filters: Filters) -> bool:
        """Some post the viewer may see has one of ``forms`` in its title or body."""
        for leaf, _offset in searcher.leaf_searchers():
            seg = self._segment(leaf.reader())
            if (filters.allowed(seg) & (seg.mask("title", forms) | seg.mask("body", forms))).any():
                return True
        return False

    def _correct(self, searcher, cache: _Generation, parsed, filters: Filters, marks):
        """Typos: words that occur in no post the viewer may see (as a word of their own),
        replaced by the closest word of the visible posts a fuzzy query finds. The
        candidates come only from those visible posts, never from elsewhere."""
        replacements: dict[str, str] = {}
        extra: list[wq.Query] = []
        for word in dict.fromkeys(parsed.words):
            forms = analysis.word_forms(word)
            if not forms or len(forms[0]) < 4 or forms[0].isdigit():
                continue
            if any(cache.known(form) for form in forms) and self._visible(searcher, forms, filters):
                continue
            maxdist = 1 if len(forms[0]) <= 6 else 2
            fuzzy = fuzzy_clause(forms[0], maxdist, cache.near(forms[0], maxdist))
            if fuzzy is None:
                continue
            texts = [f"{hit['title']}\n{hit['body']}" for hit in self._sample(searcher, fuzzy, filters)]
            best = _closest(forms[0], maxdist, texts)
            if best:
                replacements[word] = best
                extra.append(fuzzy)
                marks.stems.update(analysis.word_forms(best))
        return (replacements, extra) if replacements else None

    def suggest(self, prefix: str, scope: Scope, limit: int = 8) -> list[str]:
        folded = analysis.fold(prefix.strip())
        filters = _filters(Query("", frozenset(), scope=scope))
        if len(folded) < 2 or filters is None or not analysis.WORD.fullmatch(folded):
            return []
        key = analysis.stem(folded)
        searcher = self._searcher()
        if _empty(searcher):
            return []
        cache = self._generation(searcher)
        stats = ScopeStats(searcher, self._segment, filters, cache.scoped)   # completions of readable words only
        clauses = [c for c in (expansion("title", key, 2.0, stats.expand),
                               expansion("body", key, 1.0, stats.expand)) if c]
        if not clauses:
            return []
        counts: collections.Counter[str] = collections.Counter()
        spelling: dict[str, str] = {}
        for hit in self._sample(searcher, wq.DefaultOr(clauses), filters):
            for word in analysis.words(f"{hit['title']}\n{hit['body']}"):
                word_folded = analysis.fold(word)
                if word_folded.startswith(folded) and len(word) > 2:
                    counts[word_folded] += 1
                    spelling.setdefault(word_folded, word)
        return [spelling[w] for w, _count in counts.most_common(limit)]


def _cached_column_reader(self, fieldname, column):
    """Whoosh 2.7.4's ``W3PerDocReader._cached_reader`` remembers a column reader only when
    the column exists; for every field without lengths (the ids, scope, tags …) it asked the
    file system again, once per posting written — a fifth of a rebuild's time. A segment's
    files never change once written, so "no such column" is remembered too."""
    try:
        return self._readers[fieldname]
    except KeyError:
        reader = self.column_reader(fieldname, column) if self.has_column(fieldname) else None
        self._readers[fieldname] = reader
        return reader


whoosh3.W3PerDocReader._cached_reader = _cached_column_reader


def _clean_files(storage, indexname: str, generation: int, segments) -> None:
    """Replaces ``whoosh.index.clean_files``, which every commit calls: Whoosh deletes the
    files of segments a merge replaced at once, but a searcher opened a moment before (in
    this or another process) opens a segment's columns only when it first reads them, and
    would find them gone. Such files are retired first and deleted ``RETIRE_AFTER`` seconds
    later, by a later commit; old table-of-contents files go at once (read when opened)."""
    current = {segment.segment_id() for segment in segments}
    toc_pattern, segment_pattern = windex.TOC._pattern(indexname), windex.TOC._segment_pattern(indexname)
    record = Path(storage.folder) / RETIRED_NAME
    try:
        retired = json.loads(record.read_text())
    except (OSError, ValueError):
        retired = {}
    now, still = time.time(), {}
    for filename in list(storage):
        toc, segment = toc_pattern.match(filename), segment_pattern.match(filename)
        if toc and int(toc.group(1)) != generation or segment and segment.group(1) not in current:
            since = retired.get(filename, now) if segment else now - RETIRE_AFTER
            if now - since < RETIRE_AFTER:
                still[filename] = since
                continue
            with contextlib.suppress(OSError):
                storage.delete_file(filename)
    if still or retired:
        partial = record.with_suffix(".tmp")
        partial.write_text(json.dumps(still))
        partial.replace(record)


windex.clean_files = _clean_files


def _merge_small_segments(writer, segments):
    """Whoosh's merge policy for the drains, restricted to segments of at most ``MERGE_LIMIT``
    posts: merging is Whoosh's Python, about 0.3 ms per post, and a drain runs after a write
    request — Whoosh's own policy now and then merged segments of hundreds of thousands of
    posts there (writes at a million posts timed out). Bigger segments change only by a
    rebuild; at a million posts that leaves a few dozen segments, which search reads in turn."""
    small = [segment for segment in segments if segment.doc_count_all() <= MERGE_LIMIT]
    large = [segment for segment in segments if segment.doc_count_all() > MERGE_LIMIT]
    return writing.MERGE_SMALL(writer, small) + large


def _die_with_this_process(writer) -> None:
    """Whoosh's rebuild subprocesses are forked while this process holds the index locks
    (``drain.lock``, Whoosh's ``WRITELOCK``), so they share them. Killed with SIGKILL (a
    gunicorn timeout, the OOM killer), this process could not tell them to stop: they would
    wait on their job queue for ever and keep both locks, so no drain or rebuild ran again.
    On Linux each of them now gets SIGKILL when the thread that forked it ends (PR_SET_PDEATHSIG,
    set in the child right after the fork); this process ends the rebuild before its thread
    returns, so only a killed rebuild ever triggers it. Elsewhere this does nothing."""
    parent = os.getpid()

    def in_child(_writer) -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
        if os.getppid() != parent:   # the parent died before the line above
            os._exit(1)

    multiprocessing.util.register_after_fork(writer, in_child)


def _empty(searcher) -> bool:
    """An index without any segment (rebuilt from an empty database, or just created by a
    rebuild): Whoosh's reader then is an ``EmptyReader`` with no segment and no columns, and
    reading it as a segment failed every search with a 500 (Issue 20, point 1)."""
    return searcher.doc_count_all() == 0


def scope_terms(scope: Scope) -> list[str]:
    """The ``scope`` terms a viewer may read: one per readable cluster (or ``cluster`` for all
    of them) and ``platform`` for the platform-wide boards. Same boards as
    ``permissions.visible_board_ids``; ``tests/test_search_permissions.py`` checks it."""
    terms = [CLUSTERS] if scope.cluster_ids is None else [f"c{c}" for c in sorted(scope.cluster_ids)]
    return terms + [PLATFORM] if scope.platform else terms


def _filters(request: Query) -> Filters | None:
    """The permission restriction and the user's filters; ``None`` when the viewer may read
    nothing."""
    filters = Filters(board_id=None if request.board_id is None else str(request.board_id),
                      cluster_term=None if request.cluster_id is None else f"c{request.cluster_id}",
                      tag=request.tag or None,
                      author_id=None if request.author_id is None else str(request.author_id),
                      date_from=request.date_from, date_to=request.date_to)
    if request.scope is not None:
        filters.scope_terms = tuple(scope_terms(request.scope))
        return filters if filters.scope_terms else None
    filters.board_ids = tuple(str(b) for b in sorted(request.board_ids))
    return filters if filters.board_ids else None


def _closest(stem: str, maxdist: int, texts: list[str]) -> str | None:
    """The most frequent word within ``maxdist`` edits of ``stem`` in ``texts``."""
    counts: collections.Counter[tuple[int, str]] = collections.Counter()
    spelling: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    distances: dict[str, int] = {}   # the sampled posts repeat their words
    for text in texts:
        for word in analysis.words(text):
            forms = analysis.word_forms(word)
            if not forms or forms[0] == stem or abs(len(forms[0]) - len(stem)) > maxdist:
                continue
            distance = distances.get(forms[0])
            if distance is None:
                distance = distances[forms[0]] = edit_distance(forms[0], stem)
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
