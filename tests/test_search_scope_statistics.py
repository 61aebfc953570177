"""Issue 15, point 4: search scores are no cross-cluster oracle. Ranking and the ``score`` of
web and API depend only on posts the viewer may read: document frequencies, the number of
posts and the average field lengths are those of the viewer's readable scope, never of the
whole index. Both backends (the suite runs these tests with FORUM_TEST_SEARCH_BACKEND=postgres
too)."""
from __future__ import annotations

import pytest

from forum.search import service
from tests import factories

WORD = "Kalkulation"
QUERIES = [WORD, f"{WORD} Stundensatz", '"feste Stundensätze"', "Kalkul*", f"{WORD} -Material"]


def _answers(user) -> dict[str, list[tuple[int, float]]]:
    service.drain()   # the worker's pass: the tests write through the services, not a request
    return {q: [(item.post_id, item.score) for item in service.search(user, service.Params(q=q)).items]
            for q in QUERIES}


def _api_scores(client, token, q: str) -> list[tuple[int, float]]:
    service.drain()   # the worker's pass
    response = client.get("/api/v1/search", query_string={"q": q}, headers=token)
    assert response.status_code == 200
    return [(item["post_id"], item["score"]) for item in response.get_json()["items"]]


def _cluster_b_posts(world) -> None:
    factories.thread(world.board_b, world.outsider, "Kalkulation im Heizungsbau",
                     "Wir rechnen mit festen Stundensätzen, die Kalkulation deckt Material und Anfahrt.")
    factories.thread(world.board_b, world.manager_b, "Stundensatz erhöhen?",
                     "Unsere Kalkulation stimmt nicht mehr, der Stundensatz ist zu niedrig.")
    factories.thread(world.board_b, world.outsider, "Angebot schreiben", "Ohne saubere Kalkulation kein Angebot.")
    factories.thread(world.platform_board, world.manager, "Kalkulation für alle",
                     "Eine Vorlage zur Kalkulation, plattformweit geteilt.")
    service.drain()   # the worker's pass


def _many_cluster_a_posts(world, count: int = 40) -> None:
    """Posts the outsider cannot read, full of the query's words and of very different lengths
    (they would move the document frequencies, the post count and the average lengths)."""
    thread = factories.thread(world.board_a, world.member, "Kalkulation Kalkulation Stundensatz",
                              "Kalkulation mit festen Stundensätzen " * 20)
    for n in range(count):
        factories.reply(thread, world.member, f"Kalkulation {n}: " + "Stundensatz Material Kalkulationen " * (n % 7)
                        + "feste Stundensätze")
    service.drain()   # the worker's pass


def test_outsider_scores_do_not_change_when_another_cluster_uses_the_words(world, client, api_token):
    """Issue 15, point 4: the outsider's result list and scores for a guessed word are the same
    whether or not a cluster the outsider cannot read uses that word — on the page and in
    ``GET /api/v1/search``."""
    _cluster_b_posts(world)
    token = api_token(world.outsider)
    before = _answers(world.outsider)
    api_before = _api_scores(client, token, WORD)
    assert before[WORD] and api_before == before[WORD]

    _many_cluster_a_posts(world)
    assert len(service.search(world.member, service.Params(q=WORD)).items) > 1   # indexed for cluster A

    assert _answers(world.outsider) == before
    assert _api_scores(client, token, WORD) == api_before


def test_outsider_scores_do_not_change_when_another_clusters_posts_go(world):
    """Issue 15, point 4: deleting another cluster's posts changes nothing for the outsider
    either (Whoosh keeps deleted posts in its segments until a merge)."""
    from forum.services import moderation

    _cluster_b_posts(world)
    before = _answers(world.outsider)
    thread = factories.thread(world.board_a, world.member, "Noch mehr Kalkulation", "Kalkulation " * 30)
    replies = [factories.reply(thread, world.member, f"Kalkulation Stundensatz {n} " * (n + 1)) for n in range(8)]
    assert _answers(world.outsider) == before
    for post in replies:
        moderation.delete_post(world.manager, post, "Doppelt")
    assert _answers(world.outsider) == before


def test_a_compound_only_another_cluster_uses_changes_nothing_for_the_outsider(world):
    """Issue 15, point 4: whether a typed word is "a word of the index" (which decides how a
    compound is split and whether compounds with its tail stand in for it) is asked of the
    posts the viewer may read: cluster A using "Berufszulassung" must not take the outsider's
    stand-in hit (a compound with the same tail) away."""
    factories.thread(world.board_b, world.outsider, "Gericht", "Die Berufungszulassung kam nach einem Jahr.")
    factories.thread(world.board_b, world.outsider, "Antrag", "Die Zulassung wurde beantragt.")
    service.drain()   # the worker's pass
    before = [(item.post_id, item.score)
              for item in service.search(world.outsider, service.Params(q="Berufszulassung")).items]
    assert before
    factories.thread(world.board_a, world.member, "Meisterpflicht", "Die Berufszulassung regelt die Handwerksordnung.")
    service.drain()
    assert service.search(world.member, service.Params(q="Berufszulassung")).total == 1
    after = [(item.post_id, item.score)
             for item in service.search(world.outsider, service.Params(q="Berufszulassung")).items]
    assert after == before


def test_member_of_both_clusters_sees_the_statistics_of_both(world):
    """Issue 15, point 4: scope statistics are summed over every readable cluster: for a
    member of both clusters, cluster A's posts with the word (and their lengths) change the
    score of the same cluster-B posts, as they would if both were one cluster."""
    both = factories.member(world.cluster_b, factories.member(world.cluster_a, factories.user("bea.beide")))
    _cluster_b_posts(world)
    b_post = {post_id for post_id, _score in _answers(world.outsider)[WORD]}
    before = dict(_answers(both)[WORD])

    _many_cluster_a_posts(world)
    after = dict(_answers(both)[WORD])
    assert set(after) > b_post
    for post_id in b_post:
        assert after[post_id] != before[post_id]


def test_platform_wide_posts_count_for_every_member(world):
    """Issue 15, point 4: the platform-wide boards are part of every member's scope, so their
    posts move every member's statistics alike, and a cluster's posts only its members'."""
    _cluster_b_posts(world)
    outsider = dict(_answers(world.outsider)[WORD])
    member = dict(_answers(world.member)[WORD])
    factories.thread(world.platform_board, world.manager, "Noch eine Kalkulation", "Kalkulation plattformweit")
    assert dict(_answers(world.outsider)[WORD]).keys() > outsider.keys()
    shared = next(iter(member))   # the platform-wide post both may read
    assert dict(_answers(world.outsider)[WORD])[shared] < outsider[shared]
    assert dict(_answers(world.member)[WORD])[shared] < member[shared]


def _scope_rows(db) -> dict[tuple[str, str, int], int]:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        return {(field, term, scope): df for field, term, scope, df in conn.execute(text(
            "SELECT field, term, scope, df FROM search_scope_terms WHERE df > 0"))}


def test_postgres_scope_statistics_after_updates_equal_those_of_a_rebuild(world, app, db):
    """Issue 15, point 4 (PostgreSQL): the statistics per scope that edits, deletions and
    hidden posts change step by step are what a full rebuild counts."""
    from forum.services import moderation, posting

    if app.config["SEARCH_BACKEND"] != "postgres":
        pytest.skip("die Statistik je Bereich als Tabelle hat nur das PostgreSQL-Such-Backend")
    _cluster_b_posts(world)
    _many_cluster_a_posts(world, 5)
    post = factories.reply(world.thread_b, world.outsider, "Kalkulation mit Kupferkessel")
    posting.edit_post(world.outsider, post, "Nur noch ein Messingkessel")
    posting.delete_post(world.member, factories.reply(world.thread_a, world.member, "Gleich wieder weg"))
    moderation.hide(world.manager, factories.first_post(world.thread_a), "Test")
    service.drain()
    stepwise = _scope_rows(db)
    assert ("body", "messingkessel", world.cluster_b.id) in stepwise
    assert not any(term == "kupferkessel" for _field, term, _scope in stepwise)
    assert stepwise[("", "docs", 0)] == 2   # the platform-wide boards: two threads
    service.rebuild()
    assert _scope_rows(db) == stepwise


def test_postgres_another_server_sees_new_scope_statistics_at_once(world, app):
    """Issue 15, point 4 (PostgreSQL): a second process's cached statistics per scope follow
    every write, so its scores equal those of a process that starts fresh."""
    from forum.search.backend import Query
    from forum.search.pg_backend import PgBackend

    if app.config["SEARCH_BACKEND"] != "postgres":
        pytest.skip("prüft die Zwischenspeicher des PostgreSQL-Such-Backends")
    both = factories.member(world.cluster_b, factories.member(world.cluster_a, factories.user("bea.beide")))
    _cluster_b_posts(world)
    service.drain()

    def scores(backend, user):
        result = backend.search(Query(text=WORD, board_ids=frozenset(), scope=service.scope(user)))
        return [(hit.post_id, hit.score) for hit in result.hits]

    other = PgBackend()
    before, outsider = scores(other, both), scores(other, world.outsider)
    _many_cluster_a_posts(world, 5)
    service.drain()
    assert scores(other, both) == scores(PgBackend(), both) != before
    assert scores(other, world.outsider) == outsider


def _expansion_answers(user) -> tuple[dict[str, list[tuple[int, float]]], list[str]]:
    """What a prefix, a word found inside compounds and the autocomplete give ``user``."""
    service.drain()   # the worker's pass
    results = {q: [(item.post_id, item.score) for item in service.search(user, service.Params(q=q)).items]
               for q in ("Dach*", "Rinne")}
    return results, service.suggest(user, "Dach")


def _many_expansion_words_in_cluster_a(world) -> None:
    """More than ``MAX_EXPANSION`` (24) words starting with "Dach" and more than
    ``MAX_CONTAINING`` (12) compounds with "Rinne", each in more posts than the outsider's."""
    words = [f"Dach{consonant}{vowel}nter" for consonant in "bdfgklmn" for vowel in "aeiou"][:32]
    compounds = [f"{head}rinnenbogen" for head in ("Zink", "Kupfer", "Stahl", "Kasten", "Hänge", "Regen", "Schnee",
                                                   "Traufe", "Kehl", "Dach", "Haus", "Garagen", "Balkon", "Vordach")]
    thread = factories.thread(world.board_a, world.member, "Sammelliste", " ".join(words + compounds))
    factories.reply(thread, world.member, " ".join(words + compounds))
    service.drain()   # the worker's pass


def test_another_clusters_words_push_no_readable_word_out_of_an_expansion(world):
    """Issue 15, point 4 (the residual): which words ``Dach*``, a word inside compounds
    ("Rinne" → "Dachrinne") and the autocomplete stand for is chosen from the posts the
    outsider may read. A cluster the outsider cannot read adding 30 and more words with the
    same beginning (more frequent than the outsider's) changes neither results, scores nor
    suggestions — chosen from the whole index, they pushed the outsider's words out."""
    factories.thread(world.board_b, world.outsider, "Dachrinne undicht", "Die Dachrinne tropft am Dachziegel.")
    factories.thread(world.board_b, world.outsider, "Dachdecker gesucht", "Wer kennt einen Dachdecker?")
    before = _expansion_answers(world.outsider)
    results, suggestions = before
    assert all(results.values()) and suggestions

    _many_expansion_words_in_cluster_a(world)
    assert service.search(world.member, service.Params(q="Dachbanter")).total == 1   # indexed for cluster A
    assert "Dachbanter" in service.suggest(world.member, "Dachb")

    assert _expansion_answers(world.outsider) == before


def test_counting_lazily_chooses_what_counting_every_candidate_chooses(world, app):
    """Issue 15, point 4 (the residual, Whoosh): a prefix's candidates are counted lazily —
    the most frequent in the whole segment first, stopping once none can enter the list — so
    the whole index decides how much is counted, never what is chosen: the choice is that of
    counting the readable posts of every candidate, for an outsider, a member and a member of
    both clusters alike."""
    import heapq

    from forum.search.backend import Query
    from forum.search.query import MAX_EXPANSION
    from forum.search.scoring import ScopeStats
    from forum.search.whoosh_backend import _filters

    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("prüft die Zählung in den Segmenten des Whoosh-Index")
    both = factories.member(world.cluster_b, factories.member(world.cluster_a, factories.user("bea.beide")))
    words = [f"Dach{consonant}{vowel}nter" for consonant in "bdfgklmn" for vowel in "aeiou"][:30]
    for n in range(30):   # word k: in k + 1 posts of cluster A, in 29 - k posts of cluster B
        factories.thread(world.board_a, world.member, f"Liste A {n}", " ".join(words[30 - n - 1:]))
        if n < 29:
            factories.thread(world.board_b, world.outsider, f"Liste B {n}", " ".join(words[:29 - n]))
    service.drain()   # the worker's pass
    backend = service.backend()
    searcher = backend._searcher()
    for user in (world.outsider, world.member, both):
        filters = _filters(Query("", frozenset(), scope=service.scope(user)))
        chosen = ScopeStats(searcher, backend._segment, filters, {}).expand("body", "dach")
        stats = ScopeStats(searcher, backend._segment, filters, {})
        terms = {text for leaf, _offset in searcher.leaf_searchers()
                 for text, _info in leaf.reader().iter_prefix("body", "dach")}
        counts = [(stats.doc_frequency("body", text), text) for text in terms]
        assert len([count for count, _text in counts if count]) > MAX_EXPANSION
        expected = sorted(text for _count, text in heapq.nlargest(MAX_EXPANSION, [c for c in counts if c[0]]))
        assert chosen == expected, user
