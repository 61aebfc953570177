"""Hypothesis fills the web forms and query strings with hostile input: any Unicode text, control
characters and NUL, right-to-left overrides, huge lengths, numbers that are no ids (negative,
beyond 64 bits, superscript and Arabic-Indic digits, "1e3").

Each form is sent as the role that may use it (a member of cluster A, its manager, a platform
admin, or a visitor), through the Flask test client (CSRF is off in the test app). The answer is
never a 5xx, and afterwards the database is consistent: no thread without its opening post, no
reply outside its parent's thread, counters that match the posts.

Every field also gets a NUL character alone, which PostgreSQL refuses in any string. Bounded for
CI: a few examples per form, derandomised, no example database, no shrinking (the
database changes from example to example), no deadline. ``FORUM_FUZZ_EXAMPLES`` raises the
number for a deeper run by hand. The number of requests is printed and recorded as the test
property ``fuzz_requests``.
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import os
import random
from collections.abc import Callable

from hypothesis import HealthCheck, Phase, example, given, settings, strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from forum.extensions import db
from forum.models import Board, Post, Thread
from forum.services import membership, reports
from tests import factories, membership_factories

EXAMPLES = int(os.environ.get("FORUM_FUZZ_EXAMPLES", "6"))
_SEEDS = itertools.count(1)

NASTY = ["", " ", "\x00", "a\x00b", "\u202eevil", "\r\n\r\n", "\t", "\x1b[31m", "<script>alert(1)</script>",
         "' OR 1=1 --", "%00", "../../etc/passwd", "😀👍🏽", "ä ö ü ß Ä", "ﷺ", "\ufeff", "\u200b", "null", "None",
         "[]", "{}", "true", "@mia.member", "**fett** _kursiv_ [x](javascript:alert(1))"]
NOT_IDS = ["0", "-1", "²", "١٢", "1e3", " 7 ", "0x10", "1_000", "+5", "2147483648", "9" * 20, "9" * 5000, "3.5"]

_chars = st.characters(exclude_categories=("Cs",))   # a browser cannot send lone surrogates
TEXT = st.one_of(
    st.text(_chars, max_size=80),
    st.sampled_from(NASTY),
    st.builds(lambda unit, n: unit * n, st.sampled_from(["a", "ü", "\x00", "😀 ", "x\n"]),
              st.sampled_from([300, 5_000, 60_000])),
)
NUMBER = st.one_of(st.sampled_from(NOT_IDS), st.integers(-(2**70), 2**70).map(str), TEXT)
DATE = st.one_of(st.sampled_from(["2024-01-31", "2024-02-30", "0000-00-00", "9999-12-31", "31.01.2024"]), TEXT)
CURSOR = st.one_of(st.builds("{}-{}".format, st.sampled_from(["20240131120000", "99991231235959", "0"]), NUMBER), TEXT)


def choice(*valid: str) -> st.SearchStrategy:
    """A select or radio field: mostly a valid option, sometimes anything."""
    return st.one_of(st.sampled_from(valid), TEXT)


def some(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A field a browser may send several times (checkboxes)."""
    return st.lists(strategy, max_size=4)


@dataclasses.dataclass
class Scene:
    """The world plus objects that the forms act on (ids known before the first example)."""
    world: factories.World
    own_post: int             # the member's reply in thread A
    manager_post: int         # the manager's reply to it
    spare_thread: int         # locked, renamed, moved and split by the manager
    spare_post: int
    merge_source: int         # merged into thread A
    second_board: int         # another board of cluster A: a target for moving
    report: int
    token: str                # an open invitation to cluster A
    extra_member: int         # a member of A whose role the manager changes


def build_scene(world) -> Scene:
    own = factories.reply(world.thread_a, world.member, "Meine Antwort")
    managers = factories.reply(world.thread_a, world.manager, "Antwort der Moderation", parent=own)
    spare = factories.thread(world.board_a, world.member, "Ersatzthema", "Wird verschoben und geteilt")
    spare_reply = factories.reply(spare, world.member, "Ein Zweig zum Abtrennen")
    source = factories.thread(world.board_a, world.member, "Doppeltes Thema", "Gehört zu den Azubis")
    factories.reply(source, world.manager, "Eine Antwort darin")
    second = factories.board(world.cluster_a, "Zweites Brett")
    report = reports.create_report(world.member, managers, "spam", "Werbung")
    extra = factories.member(world.cluster_a, factories.user("erik.extra"))
    invitation = membership_factories.invitation(world.cluster_a, world.manager)
    return Scene(world, own.id, managers.id, spare.id, spare_reply.id, source.id, second.id, report.id,
                 membership.token_for(invitation), extra.id)


@dataclasses.dataclass
class Form:
    name: str
    role: str                               # member, manager, admin or anonymous
    path: Callable[[Scene], str]
    fields: dict[str, st.SearchStrategy] | Callable[[Scene], dict[str, st.SearchStrategy]]
    method: str = "POST"

    def strategy(self, scene: Scene) -> st.SearchStrategy:
        return st.fixed_dictionaries(self.fields(scene) if callable(self.fields) else self.fields)

    def field_names(self, scene: Scene) -> list[str]:
        return list(self.fields(scene) if callable(self.fields) else self.fields)


def real(*ids: int) -> st.SearchStrategy:
    """An id field: sometimes a real object's id, mostly anything."""
    return st.one_of(st.sampled_from([str(i) for i in ids]), NUMBER)


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A filter the form may leave empty."""
    return st.one_of(st.just(""), strategy)


A = "cluster-muensterland"
EMAILS = st.one_of(st.sampled_from(["info@tischlerei-beispiel.de", "Azubi@Example.org", "a@b.c, x@y.de\nz@w.de"]), TEXT)
USERNAMES = st.one_of(st.from_regex(r"[a-z]{3,12}(\.[a-z]{2,8})?", fullmatch=True), TEXT)
PASSWORDS = st.one_of(st.just("ganz-geheim-123"), TEXT)
FORMS = [
    # -- signing in and out, joining
    Form("Anmeldung", "anonymous", lambda s: "/login",
         {"login": st.one_of(st.just("mia.member"), TEXT), "password": TEXT, "remember": TEXT}),
    Form("Anmeldung mit next", "anonymous", lambda s: "/login", {"next": TEXT}, "GET"),
    Form("Passwort vergessen", "anonymous", lambda s: "/passwort-vergessen", {"login": TEXT}),
    Form("Mitmachen", "anonymous", lambda s: "/mitmachen",
         {"name": TEXT, "company": TEXT, "trade": TEXT, "region": TEXT, "email": EMAILS, "cluster": choice(A, ""),
          "topics": some(choice("nachwuchs", "digitalisierung")), "message": TEXT, "website": st.just("")}),
    Form("Registrierung mit Einladung", "anonymous", lambda s: f"/einladung/{s.token}",
         {"username": USERNAMES, "display_name": TEXT, "company": TEXT, "trade": TEXT, "region": TEXT,
          "password": PASSWORDS, "confirm": PASSWORDS}),
    Form("Einladungslink", "anonymous", lambda s: f"/einladung/{s.token}x", {"username": TEXT}),
    Form("Beitrittsanfrage", "member", lambda s: "/mitmachen/cluster-ruhrgebiet/anfragen", {"message": TEXT}),
    # -- reading
    Form("Suche", "member", lambda s: "/search",
         lambda s: {"q": TEXT, "cluster": maybe(choice(A)), "board": maybe(real(s.world.board_a.id)),
                    "tag": maybe(TEXT), "author": maybe(TEXT), "from": maybe(DATE), "to": maybe(DATE),
                    "sort": maybe(choice("relevance", "newest")), "page": maybe(NUMBER)}, "GET"),
    Form("Suchvorschläge", "member", lambda s: "/search/vorschlaege", {"q": TEXT}, "GET"),
    Form("Thema lesen", "member", lambda s: f"/t/{s.world.thread_a.id}",
         {"view": choice("flat", "tree"), "page": NUMBER}, "GET"),
    Form("Brett lesen", "member", lambda s: f"/b/{s.world.board_a.id}", {"thema": TEXT, "nach": CURSOR}, "GET"),
    Form("Benachrichtigungen", "member", lambda s: "/benachrichtigungen", {"page": NUMBER, "ungelesen": TEXT}, "GET"),
    Form("Erwähnungen", "member", lambda s: f"/t/{s.world.thread_a.id}/erwaehnungen", {"q": TEXT}, "GET"),
    # -- writing
    Form("Neues Thema", "member", lambda s: f"/b/{s.world.board_a.id}/neu",
         {"title": TEXT, "body": TEXT, "tags": some(choice("nachwuchs", "energie")), "action": choice("preview", "")}),
    Form("Antwort", "member", lambda s: f"/t/{s.world.thread_a.id}/antworten",
         lambda s: {"body": TEXT, "parent_id": maybe(real(s.own_post)), "action": choice("preview", "")}),
    Form("Antwortformular", "member", lambda s: f"/t/{s.world.thread_a.id}/antworten",
         lambda s: {"parent": real(s.own_post), "zitat": TEXT}, "GET"),
    Form("Bearbeiten", "member", lambda s: f"/p/{s.own_post}/bearbeiten",
         {"body": TEXT, "action": choice("preview", "")}),
    Form("Vorschau", "member", lambda s: "/vorschau", {"body": TEXT}),
    Form("Melden", "member", lambda s: f"/p/{s.world.platform_thread.first_post_id}/melden",
         {"reason": choice("spam", "offensive", "other"), "text": TEXT}),
    Form("Reaktion", "member", lambda s: f"/p/{s.manager_post}/reaktion",
         {"kind": choice("daumen", "herz"), "next": TEXT}),
    Form("Beobachten", "member", lambda s: f"/beobachten/thread/{s.world.thread_a.id}",
         {"level": choice("watching", "normal", "muted"), "next": TEXT}),
    Form("Gelesen", "member", lambda s: "/benachrichtigungen/gelesen", {"id": some(NUMBER), "next": TEXT}),
    Form("Lösung", "member", lambda s: f"/t/{s.world.thread_a.id}/loesung",
         lambda s: {"post_id": real(s.manager_post)}),
    # -- the account
    Form("Profil", "member", lambda s: "/konto",
         {"display_name": TEXT, "company": TEXT, "trade": TEXT, "region": TEXT, "email": EMAILS,
          "locale": choice("de", "en")}),
    Form("Passwort ändern", "member", lambda s: "/konto/passwort",
         {"current_password": TEXT, "password": TEXT, "confirm": TEXT}),
    Form("Mail-Einstellungen", "member", lambda s: "/konto/benachrichtigungen",
         {"reply": choice("immediate", "never"), "mention": TEXT, "watched": TEXT, "moderation": TEXT}),
    # -- cluster management
    Form("Einladen", "manager", lambda s: f"/c/{A}/verwaltung/einladungen",
         {"emails": EMAILS, "role": choice("member", "manager")}),
    Form("Rolle", "manager", lambda s: f"/c/{A}/verwaltung/mitglieder/{s.extra_member}/rolle",
         {"role": choice("member", "manager")}),
    Form("Mitglied sperren", "manager", lambda s: f"/c/{A}/verwaltung/mitglieder/{s.extra_member}/sperren",
         {"reason": TEXT, "until": maybe(DATE)}),
    Form("Brett anlegen", "manager", lambda s: f"/c/{A}/verwaltung/bretter", {"name": TEXT, "description": TEXT}),
    Form("Brett bearbeiten", "manager", lambda s: f"/c/{A}/verwaltung/bretter/{s.second_board}",
         {"name": TEXT, "description": TEXT}),
    Form("Freigabe", "manager", lambda s: f"/c/{A}/verwaltung/schutz", {"approval_post_count": maybe(NUMBER)}),
    Form("Langsamer Modus", "manager", lambda s: f"/t/{s.spare_thread}/langsamer-modus",
         {"minutes": maybe(NUMBER), "reason": TEXT}),
    Form("Meldungen", "manager", lambda s: f"/c/{A}/meldungen", {"status": TEXT, "page": NUMBER}, "GET"),
    Form("Protokoll", "manager", lambda s: f"/c/{A}/protokoll",
         {"aktion": maybe(TEXT), "von": maybe(TEXT), "ab": maybe(DATE), "bis": maybe(DATE), "page": NUMBER}, "GET"),
    # -- moderation
    Form("Sperren", "manager", lambda s: f"/t/{s.spare_thread}/sperren", {"lock_reason": TEXT}),
    Form("Titel", "manager", lambda s: f"/t/{s.spare_thread}/titel", {"title": TEXT, "tags": some(TEXT)}),
    Form("Verschieben", "manager", lambda s: f"/t/{s.spare_thread}/verschieben",
         lambda s: {"board_id": real(s.second_board, s.world.board_a.id, s.world.board_b.id), "move_reason": TEXT}),
    Form("Vorschlagen", "manager", lambda s: f"/t/{s.world.thread_a.id}/vorschlagen",
         lambda s: {"target_board_id": real(s.world.platform_board.id)}),
    Form("Ausblenden", "manager", lambda s: f"/p/{s.own_post}/ausblenden", {"hide_reason": TEXT}),
    Form("Abtrennen", "manager", lambda s: f"/p/{s.spare_post}/abtrennen", {"split_title": TEXT}),
    Form("Meldung erledigen", "manager", lambda s: f"/meldungen/{s.report}",
         {"action": choice("hide", "keep", "contact"), "note": TEXT}),
    Form("Entfernen", "manager", lambda s: f"/p/{s.own_post}/entfernen", {"delete_reason": TEXT}),
    Form("Zusammenführen", "manager", lambda s: f"/t/{s.merge_source}/zusammenfuehren",
         lambda s: {"target_thread_id": real(s.world.thread_a.id, s.world.thread_b.id), "merge_reason": TEXT}),
    # -- platform administration
    Form("Konto anlegen", "admin", lambda s: "/admin/konten",
         {"username": USERNAMES, "email": EMAILS, "password": PASSWORDS, "display_name": TEXT, "is_admin": TEXT}),
    Form("Cluster anlegen", "admin", lambda s: "/admin/cluster", {"name": TEXT, "region": TEXT, "description": TEXT}),
    Form("Mitglied hinzufügen", "admin", lambda s: f"/admin/cluster/{A}",
         {"username": st.one_of(st.just("lars.loner"), USERNAMES), "role": choice("member", "manager")}),
]


def fresh_random() -> None:
    """Hypothesis resets the global ``random`` before every example; Whoosh names its index
    segments with it, so two examples would write segments of the same name."""
    random.seed(next(_SEEDS))


def inconsistencies() -> list[str]:
    """What a half-written change would leave behind."""
    session = db.session
    session.rollback()   # read what is committed, not what a failed request left in the session
    problems = []
    first = aliased(Post)
    broken_threads = session.execute(
        select(Thread.id).outerjoin(first, first.id == Thread.first_post_id)
        .where((first.id.is_(None)) | (first.thread_id != Thread.id) | first.parent_id.is_not(None))
    ).scalars().all()
    if broken_threads:
        problems.append(f"Themen ohne gültigen Eröffnungsbeitrag: {broken_threads}")
    parent = aliased(Post)
    orphans = session.execute(
        select(Post.id).join(parent, parent.id == Post.parent_id)
        .where((parent.thread_id != Post.thread_id) | (Post.depth != parent.depth + 1))
    ).scalars().all()
    if orphans:
        problems.append(f"Antworten außerhalb des Themas ihres Elternbeitrags: {orphans}")
    visible = (select(func.count(Post.id)).where(Post.thread_id == Thread.id, Post.awaiting_approval.is_(False))
               .correlate(Thread).scalar_subquery())
    miscounted = session.execute(select(Thread.id).where(Thread.reply_count != visible - 1)).scalars().all()
    if miscounted:
        problems.append(f"Themen mit falscher Antwortzahl: {miscounted}")
    threads = select(func.count(Thread.id)).where(Thread.board_id == Board.id).correlate(Board).scalar_subquery()
    wrong_boards = session.execute(select(Board.id).where(Board.thread_count != threads)).scalars().all()
    if wrong_boards:
        problems.append(f"Bretter mit falscher Themenzahl: {wrong_boards}")
    return problems


def short(data: dict) -> str:
    """The example for the failure message, long values abbreviated."""
    def one(value):
        if isinstance(value, list):
            return [one(v) for v in value]
        return value if len(value) <= 40 else f"{value[:20]!r}…({len(value)} Zeichen)"
    return repr({key: one(value) for key, value in data.items()})


def _client(app, world, role: str):
    client = app.test_client()
    if role != "anonymous":
        user = getattr(world, role)
        response = client.post("/login", data={"login": user.username, "password": factories.PASSWORD})
        assert response.status_code == 302, role
    return client


def test_forms_survive_hostile_input(app, world, record_property):
    scene = build_scene(world)
    assert inconsistencies() == []
    clients = {role: _client(app, world, role) for role in ("member", "manager", "admin")}
    tally: collections.Counter = collections.Counter()
    failures = []
    for form in FORMS:
        path = form.path(scene)
        first: list[str] = []   # the first failure as it happened (a replay may differ: the database moved on)

        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(data=form.strategy(scene))
        def fuzz(data):
            fresh_random()
            # a visitor stays a visitor, even after the registration form signed one in
            client = app.test_client() if form.role == "anonymous" else clients[form.role]
            try:
                if form.method == "GET":
                    response = client.get(path, query_string=data)
                else:
                    response = client.post(path, data=data)
            except Exception as exc:   # the test app lets some errors through instead of answering 500
                first.append(f"{form.method} {path} {short(data)}: {type(exc).__name__}: {exc}"[:800])
                raise
            tally[form.name, response.status_code] += 1
            problem = (f"Status {response.status_code}" if response.status_code >= 500 else
                       "; ".join(inconsistencies()))
            if problem:
                first.append(f"{form.method} {path} {short(data)}: {problem}")
                raise AssertionError(first[0])

        for name in form.field_names(scene):   # besides: NUL in each field alone (PostgreSQL refuses it)
            fuzz = example(data={name: "a\x00b"})(fuzz)
        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 -- collected, reported together below
            failures.append(f"{form.name}: {first[0] if first else f'{type(exc).__name__}: {exc}'}"[:1500])
    record_property("fuzz_requests", sum(tally.values()))
    print(f"\n{sum(tally.values())} Formular-Anfragen an {len(FORMS)} Formulare")
    for key, n in sorted(tally.items()):
        print("  ", key, n)
    assert not failures, "\n\n".join(failures)
    # The fuzzer reached the forms: most of them answered something other than 404 at least once.
    answered = {name for (name, status), n in tally.items() if status != 404}
    assert len(answered) >= len(FORMS) - 2, sorted({f.name for f in FORMS} - answered)
