"""Ranking rules for long texts and natural questions: words close together, threads whose
text continues in replies, typed compounds the index lacks, question words."""
from __future__ import annotations

import numpy as np
import pytest

from forum.search import analysis, service
from forum.search.scoring import Scorer
from tests import factories

FILLER = " ".join(f"Absatz{n} Wortlaut{n}" for n in range(40))


def titles(user, q, **params):
    service.drain()   # the worker's pass: the tests write through the services, not a request
    page = service.search(user, service.Params(q=q, **params))
    return [item.thread_title for item in page.items]


def test_question_words_are_stop_words():
    for word in ("Wonach", "wozu", "Woran", "worüber", "Inwieweit", "weswegen"):
        assert analysis.word_forms(word) == ()


def test_a_post_without_any_word_does_not_break_the_search(world, client, api_token):
    """Found by fuzzing: Whoosh gives no length for a body of emoji only, and every search that
    scored that segment answered 500."""
    factories.thread(world.board_a, world.member, "Azubis!!", "😀😀 !!! 👍🏽")
    factories.thread(world.board_a, world.member, "?!", "Ausbildung im Handwerk")
    assert "Azubis finden im Münsterland" in titles(world.member, "Azubis")
    assert titles(world.member, "Ausbildung") == ["?!"]
    response = client.get("/api/v1/search", query_string={"q": "Der Benutzername"}, headers=api_token(world.member))
    assert response.status_code == 200 and response.get_json()["total"] == 0


def test_words_close_together_rank_above_the_same_words_far_apart(world):
    factories.thread(world.board_a, world.member, "Akte Nord", f"Kündigung {FILLER} wirksam")
    factories.thread(world.board_a, world.member, "Akte Süd", f"Kündigung wirksam {FILLER}")
    assert titles(world.member, "Ist die Kündigung wirksam?")[:2] == ["Akte Süd", "Akte Nord"]
    # one word alone: no proximity, both texts score alike
    assert set(titles(world.member, "Kündigung")) == {"Akte Süd", "Akte Nord"}


def test_proximity_needs_two_distinct_words_within_the_window(world, app):
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("prüft den Whoosh-Scorer direkt; pg_scoring.Ranking.proximity ist derselbe Algorithmus")
    factories.thread(world.board_a, world.member, "Akte Ost", f"Revision Revision {FILLER} Streitwert")
    service.drain()
    backend = service.backend()
    searcher = backend._searcher()
    scorer = Scorer(searcher)
    for leaf, _offset in searcher.leaf_searchers():
        seg = backend._segment(leaf.reader())
        docs = np.flatnonzero(seg.mask("body", ("revision",))).tolist()
        assert docs
        assert scorer.proximity(seg, [("revision",), ("streitwert",)], docs) == {}
        assert scorer.proximity(seg, [("revision",), ("absatz1",)], docs)


def test_coordination_counts_clauses_like_the_dense_reference(world, app):
    """The scorer counts the clauses a post matched from the posting lists each clause touched;
    the reference scores every clause into its own array and compares whole arrays. Both must
    give the same score to every post, and a term's cached saturation the direct BM25 value."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("prüft den Whoosh-Scorer direkt")
    from whoosh import query as wq

    from forum.search import query as search_query
    from forum.search.scoring import COORD_BONUS, K1
    factories.thread(world.board_a, world.member, "Wärmepumpe im Altbau",
                     "Förderung der Wärmepumpe: Azubis haben geholfen, die Fördermittel zu beantragen.")
    factories.thread(world.board_a, world.member, "Lehrlinge gesucht", "Ausbildung und Förderung im Handwerk")
    service.drain()
    backend = service.backend()
    searcher = backend._searcher()
    cache = backend._generation(searcher)
    for text in ("Wärmepumpe Förderung Azubi", "Förderung", "Wie finde ich Lehrlinge für die Ausbildung im Handwerk",
                 '"Förderung der Wärmepumpe" Azubis -Altbau'):
        marks = search_query.Marks()
        q = search_query.build(search_query.parse(text), marks, known=cache.known, expand=cache.expand,
                               contains=cache.contains)
        positive = q.a if isinstance(q, wq.AndNot) else q
        for leaf, _offset in searcher.leaf_searchers():
            seg = backend._segment(leaf.reader())
            scores = Scorer(searcher).scores(positive, leaf, seg)
            if isinstance(positive, wq.Or) and positive.scale and len(positive.subqueries) > 1:
                parts = [Scorer(searcher).scores(clause, leaf, seg, positive.boost) for clause in positive.subqueries]
                matched = sum((part > 0).astype(int) for part in parts)
                factor = 1 + COORD_BONUS * (matched - 1) / (len(parts) - 1)
                expected = sum(parts) * np.where(matched > 0, factor, 0)
            else:
                expected = scores
            assert np.flatnonzero(scores).tolist() == np.flatnonzero(expected).tolist(), text
            assert np.allclose(scores, expected, rtol=1e-6), text
            assert scores.any(), text
            # the sparse path the search takes: the same documents and scores, exclusions applied
            dense = Scorer(searcher).scores(q, leaf, seg)
            ids, sparse = Scorer(searcher).matches(q, leaf, seg)
            assert ids.tolist() == np.flatnonzero(dense).tolist(), text
            assert np.allclose(sparse, dense[ids], rtol=1e-6), text
            ids, saturation = seg.saturation("body", "forder", 12.3)
            weights = seg.postings("body", "forder")[1].astype(np.float64)
            direct = (K1 + 1) * weights / (weights + seg.norms("body", 12.3, ids))
            assert len(ids) and np.allclose(saturation, direct, rtol=1e-6)


@pytest.mark.parametrize("newest", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_grouping_by_thread_equals_sorting_all_matches(newest, sparse):
    """The best post per thread comes from scatter operations over thread slots; the reference
    sorts all matches by thread and key. Ties (equal scores, equal dates) go to the earliest
    document by relevance and to the latest by date, in both."""
    from forum.search.scoring import THREAD_REST, group_by_thread

    rng = np.random.default_rng(7)
    n = 5000
    threads = rng.integers(0, 400, n).astype(np.int32) * (10_000_000 if sparse else 1)
    docnums = rng.permutation(n * 3)[:n].astype(np.int64)
    scores = rng.integers(1, 6, n).astype(np.float64)          # few values: many ties
    keys = rng.integers(0, 50, n).astype(np.int64) if newest else scores
    best = group_by_thread(threads, keys, docnums, scores, newest)

    order = np.lexsort((-docnums if newest else docnums, -keys, threads))
    expected = {}
    for i in order:
        t = int(threads[i])
        if t not in expected:
            expected[t] = [keys[i], int(docnums[i]), scores[i], 0.0]
        else:
            expected[t][3] += scores[i]
    got = {int(threads[np.flatnonzero(docnums == d)[0]]): (k, int(d), sc)
           for k, d, sc in zip(best.keys, best.docnums, best.scores, strict=True)}
    assert len(best) == len(expected) == len(got)
    for t, (key, docnum, score, rest) in expected.items():
        extra = 0.0 if newest else THREAD_REST * rest
        assert got[t][1] == docnum
        assert got[t][0] == pytest.approx(key + extra) and got[t][2] == pytest.approx(score + extra)


def test_segments_scored_in_a_second_thread_give_the_same_results(world, app, monkeypatch):
    """Large segments but the largest are scored in a helper thread; with the threshold at
    one post every segment but one goes there, and every answer must equal the serial one."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Segmente gibt es nur im Whoosh-Index")
    from forum.search import scoring

    for n in range(4):   # each drain writes a segment of its own
        factories.thread(world.board_a, world.member, f"Wärmepumpe Nummer {n}",
                         f"Förderung der Wärmepumpe im Altbau, Betrieb {n}, Azubi gesucht")
        service.drain()
    assert len(list(service.backend()._searcher().leaf_searchers())) > 1
    queries = ["Wärmepumpe Förderung Azubi", "Wärmepumpe", '"Wärmepumpe im Altbau" -Nummer', "Betrieb"]

    def answers():
        result = []
        for q in queries:
            for sort in ("relevance", "newest"):
                page = service.search(world.member, service.Params(q=q, sort=sort))
                result.append((page.total, [(item.post_id, item.score) for item in page.items]))
        return result

    monkeypatch.setattr(scoring, "PARALLEL_POSTS", 10 ** 9)
    serial = answers()
    monkeypatch.setattr(scoring, "PARALLEL_POSTS", 1)
    used = []
    pool = scoring._pool
    monkeypatch.setattr(scoring, "_pool", lambda: used.append(1) or pool())
    assert answers() == serial
    assert used   # the helper thread did score segments
    assert any(total for total, _items in serial)


def test_a_prepared_query_scores_a_segment_without_reading_the_whole_index(world, app):
    """Segments scored in the helper thread may read only their own files: after ``prepare``
    (in the request's thread) scoring asks for no document frequency and no average length,
    which read every segment. A query with a part only Whoosh's matchers score is not
    prepared, so it is scored serially."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Segmente gibt es nur im Whoosh-Index")
    from whoosh import query as wq

    from forum.search import query as search_query

    factories.thread(world.board_a, world.member, "Wärmepumpe im Altbau", "Förderung der Wärmepumpe, Azubi gesucht")
    service.drain()
    backend = service.backend()
    searcher = backend._searcher()
    cache = backend._generation(searcher)
    q = search_query.build(search_query.parse('Wärmepumpe Förderung "Wärmepumpe im Altbau" -Keller'),
                           search_query.Marks(), known=cache.known, expand=cache.expand, contains=cache.contains)
    scorer = Scorer(searcher, cache.doc_frequency)
    assert scorer.prepare(q)

    def whole_index(*_args):
        raise AssertionError("liest den ganzen Index")

    scorer.doc_frequency = whole_index
    scorer.searcher = type("NoIndex", (), {"avg_field_length": whole_index, "doc_count_all": whole_index})()
    found = 0
    for leaf, _offset in searcher.leaf_searchers():
        seg = backend._segment(leaf.reader())
        ids, _scores = scorer.for_segment(np.ones(seg.count, dtype=bool)).matches(q, leaf, seg)
        found += len(ids)
    assert found
    assert not Scorer(searcher).prepare(wq.Or([wq.Term("body", "warmepump"), wq.FuzzyTerm("body", "warmepume")]))


def test_a_text_continued_in_a_reply_keeps_the_evidence_of_both_parts(world):
    # both words equally rare, every post as long: the best posts alone tie, and the single
    # post, created first, would win the tie
    factories.thread(world.board_a, world.member, "Urteil einzeln", f"Die Revision ist begründet. {FILLER}")
    split = factories.thread(world.board_a, world.member, "Urteil geteilt", f"Die Revision ist begründet. {FILLER}")
    factories.reply(split, world.member, f"Der Streitwert wird festgesetzt. {FILLER}")
    factories.thread(world.board_a, world.member, "Urteil drei", f"Der Streitwert wird festgesetzt. {FILLER}")
    found = titles(world.member, "Revision Streitwert")
    assert found.index("Urteil geteilt") < found.index("Urteil einzeln")


def test_typed_compound_missing_from_the_index_finds_compounds_with_its_tail(world):
    factories.thread(world.board_a, world.member, "Beschluss", "Die Berufungszulassung beruht auf der VwGO.")
    factories.thread(world.board_a, world.member, "Antrag", "Die Zulassung wurde beantragt.")
    found = titles(world.member, "Berufszulassung")
    assert "Beschluss" in found and "Antrag" in found


def test_typed_compound_the_index_has_does_not_widen_to_its_tail(world):
    factories.thread(world.board_a, world.member, "Gutachten", "Die Berufszulassung ist geregelt.")
    factories.thread(world.board_a, world.member, "Beschluss", "Die Berufungszulassung beruht auf der VwGO.")
    factories.thread(world.board_a, world.member, "Antrag", "Die Zulassung wurde beantragt.")
    assert titles(world.member, "Berufszulassung")[0] == "Gutachten"
    assert "Beschluss" not in titles(world.member, "Berufszulassung")
