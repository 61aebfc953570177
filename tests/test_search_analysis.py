"""German analysis: every rule of the search issue, on small fixtures, through the service."""
from __future__ import annotations

import pytest

from forum.search import analysis, service
from forum.search.highlight import strip_marks
from tests import factories

THREADS = {
    "waermepumpe": ("Erfahrungen mit der Wärmepumpe", "Die Wärmepumpe läuft seit Jahren ohne Probleme."),
    "strasse": ("Straßenbau und Verkehr", "Die Straße vor der Werkstatt wird gesperrt."),
    "betriebe": ("Betriebe im Wandel", "Viele Betriebe suchen Nachfolger."),
    "foerderung": ("Neue Richtlinie", "Die Wärmepumpenförderung wurde erhöht."),
    "lehrlinge": ("Lehrlinge gesucht", "Wir bilden jedes Jahr aus."),
    "uebergabe": ("Betriebsübergabe planen", "Wie habt ihr das geregelt?"),
    "photovoltaik": ("Photovoltaik auf dem Dach", "Lohnt sich das noch für kleine Dächer?"),
    "pumpe": ("Pumpe defekt", "Die Umwälzpumpe ist kaputt."),
    "kalkulation": ("Kalkulation", "Wir rechnen mit festen Stundensätzen."),
    "preise": ("Preise erhöhen", "Unsere Kalkulation steht im Anhang, die Preise steigen."),
    "steuer": ("Steuern sparen", "Der Steuerberater hilft bei der Steuer."),
}


@pytest.fixture
def corpus(world):
    made = {key: factories.thread(world.board_a, world.member, title, body) for key, (title, body) in THREADS.items()}
    service.drain()   # the worker's pass: written through the services, not a request
    return made


def titles(user, q, **params):
    service.drain()   # the worker's pass: the fixtures write through the services, not a request
    page = service.search(user, service.Params(q=q, **params))
    return [item.thread_title for item in page.items]


def title_of(key):
    return THREADS[key][0]


def test_folding_and_stemming_units():
    assert analysis.word_forms("Wärmepumpe")[0] == analysis.word_forms("warmepumpe")[0] == "warmepump"
    assert "warmepump" in analysis.word_forms("waermepumpe")
    assert analysis.word_forms("Straße") == analysis.word_forms("Strasse")
    assert analysis.word_forms("Betrieb") == analysis.word_forms("Betriebe") == analysis.word_forms("Betriebs")
    assert analysis.word_forms("neue") == analysis.word_forms("neu")          # eu is no umlaut
    assert analysis.word_forms("Steuer") == analysis.word_forms("Steuern")
    assert analysis.word_forms("Azubis") == analysis.word_forms("Azubi")
    assert analysis.word_forms("und") == analysis.word_forms("für") == analysis.word_forms("fuer") == ()
    assert "pumpenforderung" in analysis.word_parts("Wärmepumpenförderung")
    assert analysis.word_parts("Haus") == ()


@pytest.mark.parametrize("typed",
                         ["Wärmepumpe", "wärmepumpe", "WÄRMEPUMPE", "waermepumpe", "warmepumpe", "Wärmepumpen"])
def test_case_and_umlaut_variants_find_the_same_thread(corpus, world, typed):
    assert titles(world.member, typed)[0] == title_of("waermepumpe")


@pytest.mark.parametrize("typed", ["Straße", "Strasse", "strasse", "STRASSE"])
def test_sharp_s_and_ss_match(corpus, world, typed):
    assert titles(world.member, typed) == [title_of("strasse")]


@pytest.mark.parametrize("typed", ["Betrieb", "Betriebe", "Betriebs"])
def test_inflections_match(corpus, world, typed):
    assert title_of("betriebe") in titles(world.member, typed)


@pytest.mark.parametrize("typed", ["Förderung", "Pumpe", "foerderung"])
def test_compound_parts_find_the_compound(corpus, world, typed):
    assert title_of("foerderung") in titles(world.member, typed)


def test_compound_matches_rank_below_whole_words_and_bring_no_noise(corpus, world):
    found = titles(world.member, "Pumpe")
    assert found[0] == title_of("pumpe")
    assert set(found) == {title_of("pumpe"), title_of("waermepumpe"), title_of("foerderung")}


def test_typo_is_caught_with_a_suggestion(corpus, world):
    page = service.search(world.member, service.Params(q="Wärmepume"))
    assert page.suggestion == "Wärmepumpe"
    assert title_of("waermepumpe") in [item.thread_title for item in page.items]


def test_typo_with_no_other_match_still_finds_through_the_fuzzy_fallback(corpus, world):
    page = service.search(world.member, service.Params(q="Kalkulatoin"))
    assert page.suggestion == "Kalkulation"
    assert title_of("kalkulation") in [item.thread_title for item in page.items]


def test_correct_words_get_no_suggestion(corpus, world):
    assert service.search(world.member, service.Params(q="Wärmepumpe")).suggestion is None


@pytest.mark.parametrize("typed, key", [
    ("Azubi", "lehrlinge"), ("Lehrling", "lehrlinge"), ("Nachfolge", "uebergabe"),
    ("WP", "waermepumpe"), ("PV", "photovoltaik"), ("Photovoltaik", "photovoltaik"),
])
def test_synonyms_match_each_other(corpus, world, typed, key):
    assert title_of(key) in titles(world.member, typed)


def test_synonyms_rank_below_the_word_itself(corpus, world):
    found = titles(world.member, "Azubi")
    assert found.index(world.thread_a.title) < found.index(title_of("lehrlinge"))


def test_quoted_phrase_needs_the_words_in_order(corpus, world):
    assert titles(world.member, '"Wärmepumpe läuft"') == [title_of("waermepumpe")]
    assert titles(world.member, '"läuft Wärmepumpe"') == []


def test_phrases_skip_stop_words_span_three_words_and_find_titles_and_phone_spelling(corpus, world):
    assert titles(world.member, '"Jahren ohne Probleme"') == [title_of("waermepumpe")]     # "ohne" is a stop word
    assert titles(world.member, '"Wärmepumpe läuft seit"') == [title_of("waermepumpe")]
    assert titles(world.member, '"läuft seit Wärmepumpe"') == []
    assert titles(world.member, '"Photovoltaik auf dem Dach"') == [title_of("photovoltaik")]
    assert titles(world.member, '"Waermepumpe laeuft"') == [title_of("waermepumpe")]


def test_neighbour_pairs_are_the_stems_of_consecutive_words():
    assert analysis.pairs("Die Wärmepumpe läuft seit Jahren ohne Probleme.") == [
        "warmepump+lauft", "lauft+seit", "seit+jahr", "jahr+problem"]
    assert analysis.pairs("Waermepumpe laeuft") == [
        "waermepump+laeuft", "waermepump+lauft", "warmepump+laeuft", "warmepump+lauft"]
    assert analysis.pairs("Die") == []


def test_minus_excludes_a_word(corpus, world):
    found = titles(world.member, "Wärmepumpe -Probleme")
    assert title_of("waermepumpe") not in found and title_of("foerderung") in found


def test_star_finds_word_beginnings(corpus, world):
    assert titles(world.member, "Photo*") == [title_of("photovoltaik")]
    assert title_of("waermepumpe") in titles(world.member, "Wärmep*")


def test_several_words_do_not_all_have_to_match_but_more_rank_higher(corpus, world):
    found = titles(world.member, "Lohnt sich eine Photovoltaikanlage auf dem Dach für meinen Betrieb?")
    assert found[0] == title_of("photovoltaik")
    assert title_of("betriebe") in found


def test_title_weighs_more_than_body(corpus, world):
    found = titles(world.member, "Kalkulation")
    assert found[:2] == [title_of("kalkulation"), title_of("preise")]


def test_stop_words_are_ignored(corpus, world):
    assert titles(world.member, "die der und") == []
    assert titles(world.member, "die Straße und der") == titles(world.member, "Straße")


def test_snippets_highlight_matches_and_escape_html(world):
    factories.thread(world.board_a, world.member, "Sonderzeichen", "Ist <b>fett</b> & die Wärmepumpe leise?")
    service.drain()
    page = service.search(world.member, service.Params(q="Wärmepumpe leise"))
    snippet = str(page.items[0].snippet_html)
    assert "<mark>Wärmepumpe</mark>" in snippet and "<mark>leise</mark>" in snippet
    assert "&lt;b&gt;" not in snippet and "<b>" not in snippet  # Markdown rendered, then plain text
    assert "fett" in strip_marks(snippet)
