"""The corpus format (``../shared/bench/FORMAT.md``): JSON Lines, read one line at a time.

An import makes two streaming passes over the file. ``check`` is the first: it checks every
line against the format and the database (names already taken, ids already imported from a
different file) and writes nothing, so a bad line ends the import before anything is saved.
``forum.corpus_import`` is the second pass, ``forum.corpus_export`` writes the format back.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from forum.errors import ValidationError
from forum.extensions import db
from forum.models import Board, Cluster, ImportRecord, User
from forum.services import validation

KINDS = ("user", "cluster", "board", "thread", "post")
PHASE = {"user": 0, "cluster": 1, "board": 2, "thread": 3, "post": 3}  # a thread and its posts interleave
FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "user": {"kind": (str,), "id": (int,), "username": (str,), "email": (str,), "display_name": (str,),
             "trade": (str,), "company": (str,), "region": (str,)},
    "cluster": {"kind": (str,), "id": (int,), "name": (str,), "slug": (str,), "description": (str,),
                "manager_ids": (list,), "member_ids": (list,)},
    "board": {"kind": (str,), "id": (int,), "cluster_id": (int,), "name": (str,), "slug": (str,),
              "description": (str,)},
    "thread": {"kind": (str,), "id": (int,), "board_id": (int,), "author_id": (int,), "title": (str,),
               "created_at": (str,), "tags": (list,)},
    "post": {"kind": (str,), "id": (int,), "thread_id": (int,), "author_id": (int,),
             "parent_id": (int, type(None)), "body_markdown": (str,), "created_at": (str,)},
}
LIST_ITEMS = {"manager_ids": int, "member_ids": int, "tags": str}
MAX_TITLE = 120
MAX_TAGS = 3
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class CorpusError(Exception):
    """A line that breaks the format; the import stops before writing anything."""

    def __init__(self, lineno: int, reason: str):
        super().__init__(reason)
        self.lineno = lineno
        self.reason = reason

    def __str__(self) -> str:
        return _("Zeile %(n)s: %(reason)s", n=self.lineno, reason=self.reason)


# -- reading ------------------------------------------------------------------------------

def records(path: str) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """``(line number, size in bytes, record)`` for each line; raises ``CorpusError``
    for a line that is not a well-formed record (JSON, kind, fields and their types)."""
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                raise CorpusError(lineno, _("Die Zeile endet nicht mit einem Zeilenumbruch."))
            if not raw.strip():
                raise CorpusError(lineno, _("Leere Zeilen sind nicht erlaubt."))
            try:
                record = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as error:
                raise CorpusError(lineno, _("ungültiges JSON (%(error)s)", error=error)) from None
            _check_shape(lineno, record)
            yield lineno, len(raw), record


def _check_shape(lineno: int, record: object) -> None:
    if not isinstance(record, dict):
        raise CorpusError(lineno, _("Die Zeile ist kein JSON-Objekt."))
    kind = record.get("kind")
    if not isinstance(kind, str) or kind not in FIELDS:
        raise CorpusError(lineno, _("Unbekannte Art „%(kind)s“ (erlaubt: %(kinds)s).",
                                    kind=kind, kinds=", ".join(KINDS)))
    spec = FIELDS[kind]
    missing = [name for name in spec if name not in record]
    if missing:
        raise CorpusError(lineno, _("%(kind)s: Feld fehlt: %(fields)s", kind=kind, fields=", ".join(missing)))
    extra = sorted(name for name in record if name not in spec)
    if extra:
        raise CorpusError(lineno, _("%(kind)s: unbekanntes Feld: %(fields)s", kind=kind, fields=", ".join(extra)))
    for name, types in spec.items():
        value = record[name]
        item_type = LIST_ITEMS.get(name)
        wrong = not isinstance(value, types) or isinstance(value, bool) or (
            item_type is not None and any(not isinstance(v, item_type) or isinstance(v, bool) for v in value))
        if wrong:
            expected = {int: "Zahl", str: "Text", list: "Liste"}[types[0]]
            raise CorpusError(lineno, _("%(kind)s.%(field)s hat den falschen Typ (erwartet: %(type)s).",
                                        kind=kind, field=name, type=expected))


# -- values as the forum stores them ------------------------------------------------------

def timestamp(value: str) -> dt.datetime:
    if not TIMESTAMP_RE.match(value):
        raise ValidationError(_("Zeitstempel „%(value)s“ hat nicht die Form JJJJ-MM-TTTHH:MM:SSZ.", value=value))
    try:
        return dt.datetime.strptime(value, TIMESTAMP_FORMAT)
    except ValueError:
        raise ValidationError(_("Den Zeitpunkt „%(value)s“ gibt es nicht.", value=value)) from None


def clean(record: dict[str, Any]) -> dict[str, Any]:
    """The record's values checked and normalised by the forum's own input rules (raises
    ``ValidationError``); both passes call it, so they agree on every value."""
    kind = record["kind"]
    if kind == "user":
        return {
            "username": validation.username(record["username"]),
            "email": validation.email(record["email"]),
            "display_name": validation.text(record["display_name"], "display_name", _("Der Anzeigename"),
                                            max_length=120),
            "trade": validation.text(record["trade"], "trade", _("Das Gewerk"), max_length=120, required=False),
            "company": validation.text(record["company"], "company", _("Der Betrieb"), max_length=160, required=False),
            "region": validation.text(record["region"], "region", _("Die Region"), max_length=120, required=False),
        }
    if kind in ("cluster", "board"):
        return {
            "name": validation.text(record["name"], "name", _("Der Name"), max_length=160),
            "slug": validation.slug(record["slug"]),
            "description": validation.text(record["description"], "description", _("Die Beschreibung"),
                                           max_length=2000, required=False, multiline=True),
        }
    if kind == "thread":
        tags = record["tags"]
        if len(tags) > MAX_TAGS or len(set(tags)) != len(tags):
            raise ValidationError(_("Höchstens %(n)s verschiedene Schlagwörter.", n=MAX_TAGS))
        for tag in tags:
            if len(tag) > 80 or not validation.SLUG_RE.match(tag):
                raise ValidationError(_("Das Schlagwort „%(tag)s“ ist keine gültige Kurzbezeichnung.", tag=tag))
        return {"title": validation.text(record["title"], "title", _("Der Titel"), max_length=MAX_TITLE),
                "created_at": timestamp(record["created_at"]), "tags": tags}
    return {"body": validation.body(record["body_markdown"]), "created_at": timestamp(record["created_at"])}


# -- the first pass -----------------------------------------------------------------------

@dataclasses.dataclass
class Summary:
    counts: dict[str, int]
    tags: set[str]
    size: int


class _Checker:
    """Follows the file line by line with no more state than the references need: ids are
    1…n per kind, so "an earlier user" is any id up to the last one seen."""

    def __init__(self) -> None:
        self.last = dict.fromkeys(KINDS, 0)
        self.phase = 0
        self.usernames: set[str] = set()
        self.emails: set[str] = set()
        self.cluster_slugs: set[str] = set()
        self.cluster_members: dict[int, frozenset[int]] = {}
        self.board_cluster: dict[int, int] = {}
        self.board_slugs: set[tuple[int, str]] = set()
        self.tags: set[str] = set()
        self.thread: tuple[int, int, int, dt.datetime] | None = None  # line, id, cluster, created_at
        self.thread_posts: set[int] = set()
        self.previous_post_at: dt.datetime | None = None
        self.pending: dict[str, list[tuple[int, dict, dict]]] = {k: [] for k in ("user", "cluster", "board")}

    def line(self, lineno: int, record: dict[str, Any]) -> None:
        kind = record["kind"]
        index = PHASE[kind]
        if index < self.phase:
            raise CorpusError(lineno, _("%(kind)s nach %(previous)s: die Reihenfolge ist Nutzer, Cluster, Bretter, "
                                        "dann jedes Thema mit seinen Beiträgen.", kind=kind,
                                        previous=KINDS[self.phase]))
        if kind == "post" and self.thread is None:
            raise CorpusError(lineno, _("Beitrag vor dem ersten Thema."))
        if index > self.phase:
            self.verify_against_database()
            self.phase = index
        expected = self.last[kind] + 1
        if record["id"] != expected:
            reason = (_("%(kind)s-id %(id)s kommt doppelt vor.", kind=kind, id=record["id"])
                      if 0 < record["id"] < expected else
                      _("%(kind)s-id %(id)s: erwartet ist %(expected)s (fortlaufend ab 1).",
                        kind=kind, id=record["id"], expected=expected))
            raise CorpusError(lineno, reason)
        self.last[kind] = expected
        if kind == "thread":
            self.close_thread()
        try:
            values = clean(record)
        except ValidationError as error:
            raise CorpusError(lineno, error.message) from None
        getattr(self, f"_{kind}")(lineno, record, values)

    def _user(self, lineno: int, record: dict, values: dict) -> None:
        if values["username"] in self.usernames:
            raise CorpusError(lineno, _("Benutzername „%(name)s“ kommt doppelt vor.", name=values["username"]))
        if values["email"].lower() in self.emails:
            raise CorpusError(lineno, _("E-Mail-Adresse „%(email)s“ kommt doppelt vor.", email=values["email"]))
        self.usernames.add(values["username"])
        self.emails.add(values["email"].lower())
        self.pending["user"].append((lineno, record, values))

    def _cluster(self, lineno: int, record: dict, values: dict) -> None:
        members, managers = record["member_ids"], record["manager_ids"]
        if not members or members != sorted(set(members)) or not all(0 < m <= self.last["user"] for m in members):
            raise CorpusError(lineno, _("member_ids: mindestens ein früherer Nutzer, aufsteigend, ohne Doppelte."))
        if not managers or not set(managers) <= set(members):
            raise CorpusError(lineno, _("manager_ids: mindestens ein Manager, und jeder ist auch Mitglied."))
        if values["slug"] in self.cluster_slugs:
            raise CorpusError(lineno, _("Cluster-Kurzbezeichnung „%(slug)s“ kommt doppelt vor.", slug=values["slug"]))
        self.cluster_slugs.add(values["slug"])
        self.cluster_members[record["id"]] = frozenset(members)
        self.pending["cluster"].append((lineno, record, values))

    def _board(self, lineno: int, record: dict, values: dict) -> None:
        if record["cluster_id"] not in self.cluster_members:
            raise CorpusError(lineno, _("Unbekannter Cluster %(id)s.", id=record["cluster_id"]))
        key = (record["cluster_id"], values["slug"])
        if key in self.board_slugs:
            raise CorpusError(lineno, _("Brett-Kurzbezeichnung „%(slug)s“ kommt in diesem Cluster doppelt vor.",
                                        slug=values["slug"]))
        self.board_slugs.add(key)
        self.board_cluster[record["id"]] = record["cluster_id"]
        self.pending["board"].append((lineno, record, values))

    def _thread(self, lineno: int, record: dict, values: dict) -> None:
        cluster_id = self.board_cluster.get(record["board_id"])
        if cluster_id is None:
            raise CorpusError(lineno, _("Unbekanntes Brett %(id)s.", id=record["board_id"]))
        if record["author_id"] not in self.cluster_members[cluster_id]:
            raise CorpusError(lineno, _("Der Autor %(id)s ist kein Mitglied des Clusters.", id=record["author_id"]))
        self.tags.update(values["tags"])
        self.thread = (lineno, record["id"], cluster_id, values["created_at"])
        self.thread_posts = set()
        self.previous_post_at = values["created_at"]

    def _post(self, lineno: int, record: dict, values: dict) -> None:
        assert self.thread is not None
        _line, thread_id, cluster_id, thread_created = self.thread
        if record["thread_id"] != thread_id:
            raise CorpusError(lineno, _("Der Beitrag gehört nicht zum Thema der Zeilen davor (%(id)s).", id=thread_id))
        if record["author_id"] not in self.cluster_members[cluster_id]:
            raise CorpusError(lineno, _("Der Autor %(id)s ist kein Mitglied des Clusters.", id=record["author_id"]))
        created = values["created_at"]
        if not self.thread_posts:
            if record["parent_id"] is not None:
                raise CorpusError(lineno, _("Der Eröffnungsbeitrag braucht parent_id null."))
            if created != thread_created:
                raise CorpusError(lineno, _("Der Eröffnungsbeitrag muss denselben Zeitpunkt haben wie sein Thema."))
        elif record["parent_id"] not in self.thread_posts:
            raise CorpusError(lineno, _("parent_id muss ein früherer Beitrag desselben Themas sein."))
        if self.previous_post_at is not None and created < self.previous_post_at:
            raise CorpusError(lineno, _("Der Beitrag ist älter als der vorige Beitrag des Themas."))
        self.thread_posts.add(record["id"])
        self.previous_post_at = created

    def close_thread(self) -> None:
        if self.thread is not None and not self.thread_posts:
            raise CorpusError(self.thread[0], _("Das Thema hat keinen Beitrag."))

    # -- against what the database holds already ------------------------------------------

    def verify_against_database(self) -> None:
        """Names in the file that the database has already (except for records this file
        imported before), and ids imported before from another file."""
        users, clusters, boards = self.pending["user"], self.pending["cluster"], self.pending["board"]
        if users:
            known = _imported("user")
            new = [(n, r, v) for n, r, v in users if _same_or_new(n, r, v["username"], known, "user")]
            taken_names = _existing(User.username, [v["username"] for _n, _r, v in new])
            taken_emails = _existing(func.lower(User.email), [v["email"].lower() for _n, _r, v in new])
            for lineno, _record, values in new:
                if values["username"] in taken_names:
                    raise CorpusError(lineno, _("Den Benutzernamen „%(name)s“ gibt es schon.", name=values["username"]))
                if values["email"].lower() in taken_emails:
                    raise CorpusError(lineno, _("Für „%(email)s“ gibt es schon ein Konto.", email=values["email"]))
        if clusters:
            known = _imported("cluster")
            new = [(n, r, v) for n, r, v in clusters if _same_or_new(n, r, v["slug"], known, "cluster")]
            taken_slugs = _existing(Cluster.slug, [v["slug"] for _n, _r, v in new])
            taken_names = _existing(func.lower(Cluster.name), [v["name"].lower() for _n, _r, v in new])
            for lineno, _record, values in new:
                if values["slug"] in taken_slugs or values["name"].lower() in taken_names:
                    raise CorpusError(lineno, _("Einen Cluster „%(name)s“ gibt es schon.", name=values["name"]))
        if boards:
            known, clusters_before = _imported("board"), _imported("cluster")
            for lineno, record, values in boards:
                imported_cluster = clusters_before.get(record["cluster_id"])
                if _same_or_new(lineno, record, f"{record['cluster_id']}/{values['slug']}", known, "board") \
                        and imported_cluster is not None:
                    taken = db.session.scalar(select(Board.id).where(Board.cluster_id == imported_cluster[0],
                                                                     Board.slug == values["slug"]))
                    if taken:
                        raise CorpusError(lineno, _("Ein Brett „%(name)s“ gibt es in diesem Cluster schon.",
                                                    name=values["name"]))
        for pending in self.pending.values():
            pending.clear()


def _imported(kind: str) -> dict[int, tuple[int, str]]:
    rows = db.session.execute(select(ImportRecord.corpus_id, ImportRecord.local_id, ImportRecord.key)
                              .where(ImportRecord.kind == kind))
    return {corpus_id: (local_id, key) for corpus_id, local_id, key in rows}


def _same_or_new(lineno: int, record: dict, key: str, known: dict[int, tuple[int, str]], kind: str) -> bool:
    """True for a record not imported yet; refuses an id that an earlier import used for
    something else."""
    before = known.get(record["id"])
    if before is None:
        return True
    if before[1] != key:
        raise CorpusError(lineno, _("%(kind)s %(id)s wurde schon aus einer anderen Datei importiert (als „%(key)s“).",
                                    kind=kind, id=record["id"], key=before[1]))
    return False


def _existing(column, values: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        found.update(db.session.scalars(select(column).where(column.in_(chunk))))
    return found


def check(path: str, advance: Callable[[int], None] = lambda n: None) -> Summary:
    """The first pass: raises ``CorpusError`` for the first bad line, writes nothing."""
    checker = _Checker()
    size = 0
    for lineno, nbytes, record in records(path):
        checker.line(lineno, record)
        size += nbytes
        advance(nbytes)
    checker.close_thread()
    checker.verify_against_database()
    db.session.rollback()
    return Summary(counts=dict(checker.last), tags=checker.tags, size=size)


def dumps(record: dict[str, Any]) -> str:
    """One line of the format: compact, non-ASCII as is."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
