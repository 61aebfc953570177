"""The PostgreSQL search backend on its own: it ranks exactly as the Whoosh backend, its
lexicon statistics stay equal to a fresh rebuild however the index was updated, and a second
process (another server) sees every change at once. PostgreSQL only; the other search tests
run against this backend too (``FORUM_TEST_SEARCH_BACKEND=postgres``)."""
from __future__ import annotations

import pytest
from sqlalchemy import text, true
from sqlalchemy.orm import Session

from forum.search import outbox, service
from forum.search.backend import Query
from forum.search.pg_backend import PgBackend
from forum.search.whoosh_backend import WhooshBackend
from forum.services import moderation, posting
from tests import factories
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="das PostgreSQL-Such-Backend braucht PostgreSQL")

QUERIES = ["Wärmepumpe", "waermepumpe", "Pumpe", "Förderung", "Azubi", "Betrieb finden", '"Wärmepumpe läuft"',
           "Wärmepumpe -Altbau", "Wärme*", "Wärmepume", "Kalkulatoin", "Wie findet ihr Auszubildende im Betrieb?"]


@pytest.fixture
def corpus(app, world):
    app.config["SEARCH_BACKEND"] = "postgres"    # whichever backend the run tests otherwise
    for title, body in [
        ("Erfahrungen mit der Wärmepumpe", "Die Wärmepumpe läuft seit Jahren ohne Probleme im Betrieb."),
        ("Neue Richtlinie", "Die Wärmepumpenförderung wurde erhöht, die Förderung gilt ab März."),
        ("Pumpe defekt", "Die Umwälzpumpe ist kaputt, wir suchen einen Betrieb in der Nähe."),
        ("Kalkulation", "Wir rechnen mit festen Stundensätzen und finden das fair."),
        ("Lehrlinge gesucht", "Wir bilden jedes Jahr aus und finden kaum Azubis."),
        ("Wärmepumpe im Altbau", "Im Altbau lohnt sich die Wärmepumpe nur mit Dämmung."),
    ]:
        factories.thread(world.board_a, world.member, title, body)
    for n in range(3):
        factories.reply(world.thread_a, world.manager, f"Antwort {n}: Betriebe finden Azubis über die Wärmepumpe.")
    service.drain()
    return world


def _query(user, q: str, **extra) -> Query:
    return Query(text=q, board_ids=frozenset(), scope=service.scope(user), limit=50, **extra)


def _answer(backend, user, q: str, **extra):
    result = backend.search(_query(user, q, **extra))
    return [(hit.post_id, hit.score, str(hit.snippet_html)) for hit in result.hits], result.total, result.suggestion


def test_ranks_scores_snippets_and_suggestions_equal_the_whoosh_backend(corpus, db, tmp_path):
    whoosh, postgres = WhooshBackend(tmp_path / "vergleich"), PgBackend()
    with Session(db.engine) as session:
        whoosh.reindex(outbox.documents(session, true()))
        postgres.reindex(outbox.documents(session, true()))
    for q in QUERIES:
        for sort in ("relevance", "newest"):
            assert _answer(postgres, corpus.member, q, sort=sort) == _answer(whoosh, corpus.member, q, sort=sort), q
    scope = service.scope(corpus.member)
    assert postgres.suggest("wärm", scope) == whoosh.suggest("wärm", scope)


def _lexicon(db) -> dict:
    return {(field, term): df for field, term, df in db.session.execute(text(
        "SELECT field, term, df FROM search_terms WHERE df > 0 AND field <> '' OR term IN ('docs', 'title', 'body')"))}


def test_term_statistics_after_updates_equal_those_of_a_rebuild(corpus, db):
    """Edits, deletions, hidden posts and moves change document frequencies and lengths
    step by step; the result must be what a full rebuild counts."""
    post = factories.reply(corpus.thread_a, corpus.member, "Kupferkessel und Wärmepumpe")
    posting.edit_post(corpus.member, post, "Nur noch ein Messingkessel")
    posting.delete_post(corpus.member, factories.reply(corpus.thread_a, corpus.member, "Gleich wieder weg"))
    moderation.hide(corpus.manager, factories.first_post(corpus.thread_a), "Test")
    moderation.move(corpus.manager, corpus.thread_a, factories.board(corpus.cluster_a, "Zweites Brett").id)
    service.drain()
    stepwise = _lexicon(db)
    assert ("body", "messingkessel") in stepwise and ("body", "kupferkessel") not in stepwise
    service.rebuild()
    assert _lexicon(db) == stepwise


def test_another_server_sees_new_and_removed_words_at_once(corpus, db):
    other = PgBackend()    # a second process: its own caches, the same database
    assert _answer(other, corpus.member, "Zitronenfalter")[1] == 0
    assert _answer(other, corpus.member, "Falter")[1] == 0     # cached: no compound contains "falter"
    thread = factories.thread(corpus.board_a, corpus.member, "Schmetterlinge", "Ein Zitronenfalter im Lager")
    service.drain()        # this process writes the index
    assert _answer(other, corpus.member, "Zitronenfalter")[1:] == (1, None)
    assert _answer(other, corpus.member, "Falter")[1] == 1     # the compound, through the refreshed cache
    posting.delete_post(corpus.member, factories.first_post(thread))
    service.drain()
    hits, total, suggestion = _answer(other, corpus.member, "Zitronenfalte")
    assert (hits, total, suggestion) == ([], 0, None)          # no suggestion from a deleted post
    service.rebuild()
    assert _answer(other, corpus.member, "Wärmepumpe")[1] == _answer(service.backend(), corpus.member, "Wärmepumpe")[1]
