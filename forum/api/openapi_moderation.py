"""OpenAPI paths and schemas of the moderation endpoints (``forum/api/moderation.py``),
merged into the document by ``forum.api.openapi.document``."""
from __future__ import annotations

from forum.api.openapi import (
    DATE,
    FLAG,
    ID,
    NULLABLE_STAMP,
    PAGING,
    PATH,
    STAMP,
    TEXT,
    WRITE_ERRORS,
    body,
    errors,
    nullable,
    obj,
    ok,
    or_empty,
    page_of,
    path_id,
    query,
    ref,
)

NULLABLE_ID = {"anyOf": [ID, {"type": "null"}]}
REASON = {"type": "string", "maxLength": 500, "description": "Begründung (wird im Thema bzw. im Protokoll gezeigt)"}
SLUG = {"name": "slug", "in": "path", "required": True, "schema": TEXT}
MANAGERS = "Nur die Moderation des Clusters (plattformweite Bretter: Plattform-Admins)."

SCHEMAS = {
    "Report": obj({
        "id": ID, "post": ref("Post"),
        "reason": {"enum": ["spam", "beleidigend", "vertraulich", "sonstiges"]},
        "text": TEXT, "state": {"enum": ["open", "resolved"]}, "reporter": nullable("Author"),
        "created_at": STAMP, "resolved_at": NULLABLE_STAMP, "resolved_by": nullable("Author"),
        "action": {"anyOf": [{"enum": ["hide", "keep", "contact"]}, {"type": "null"}]}, "note": TEXT, "url": PATH}),
    "ReportPage": page_of("Report"),
    "NewReport": obj({"reason": {"type": "string", "minLength": 1,
                                 "description": "spam, beleidigend, vertraulich oder sonstiges; ein freier Text "
                                                "gilt als „sonstiges“ mit diesem Text"},
                      "text": {"type": "string", "maxLength": 1000, "description": "Pflicht bei „sonstiges“"}},
                     ["reason"]),
    "ReportResolution": obj({"action": {"enum": ["hide", "keep", "contact"]},
                             "note": {"type": "string", "maxLength": 1000, "description": "Pflicht bei „contact“"}},
                            ["action"]),
    "LogEntry": obj({"id": ID, "action": TEXT, "actor": nullable("Author"), "target_type": TEXT,
                     "target_id": {**NULLABLE_ID, "description": "null für Admins, die den Cluster nicht lesen"},
                     "reason": {**TEXT, "description": "leer für Admins, die den Cluster nicht lesen"},
                     "details": {"type": "object", "description": "leer für Admins, die den Cluster nicht lesen"},
                     "created_at": STAMP}),
    "LogPage": page_of("LogEntry"),
    "Reason": obj({"reason": REASON}, []),
    "RequiredReason": obj({"reason": {**REASON, "minLength": 1}}),
    "Move": obj({"board_id": ID, "reason": REASON}, ["board_id"]),
    "ThreadEdit": obj({"title": {"type": "string", "minLength": 1, "maxLength": 200},
                       "tags": {"type": "array", "items": TEXT, "maxItems": 5}}, []),
    "Merge": obj({"target_thread_id": ID, "reason": REASON}, ["target_thread_id"]),
    "Split": obj({"title": {"type": "string", "minLength": 1, "maxLength": 200},
                  "board_id": {**NULLABLE_ID, "description": "ohne: dasselbe Brett"}, "reason": REASON}, ["title"]),
    "Solution": obj({"post_id": {**NULLABLE_ID, "description": "null: Markierung entfernen"}}),
    "ProposalRequest": obj({"board_id": {**NULLABLE_ID, "description": "plattformweites Brett; ohne: das erste"}}, []),
    "Consent": obj({"agree": FLAG}),
    "Proposal": obj({
        "id": ID, "thread_id": ID, "target_board_id": ID, "state": {"enum": ["pending", "published", "refused"]},
        "published_thread_id": NULLABLE_ID, "created_at": STAMP, "decided_at": NULLABLE_STAMP,
        "consents": {"type": "array", "items": obj({"author": nullable("Author"),
                                                    "state": {"enum": ["pending", "agreed", "refused"]},
                                                    "decided_at": NULLABLE_STAMP})},
        "url": PATH}),
}


def _optional(schema: str) -> dict:
    return {"required": False, "content": {"application/json": {"schema": ref(schema)}}}


def _thread_action(operation: str, summary: str, request: dict | None = None) -> dict:
    spec = {"operationId": operation, "summary": summary, "description": MANAGERS,
            "parameters": [path_id("thread_id")], "responses": {**ok("Thread"), **errors(*WRITE_ERRORS)}}
    if request:
        spec["requestBody"] = request
    return {"post": spec}


PATHS = {
    "/threads/{thread_id}/lock": _thread_action("lockThread", "Thema sperren (Grund wird im Thema gezeigt)",
                                                _optional("Reason")),
    "/threads/{thread_id}/unlock": _thread_action("unlockThread", "Sperre aufheben", _optional("Reason")),
    "/threads/{thread_id}/pin": _thread_action("pinThread", "Thema anheften"),
    "/threads/{thread_id}/unpin": _thread_action("unpinThread", "Anheften aufheben"),
    "/threads/{thread_id}/move": _thread_action("moveThread", "In ein anderes Brett desselben Clusters verschieben",
                                                body("Move")),
    "/threads/{thread_id}/merge": _thread_action(
        "mergeThread", "Dieses Thema in ein anderes desselben Clusters einfügen; antwortet mit dem Ziel-Thema. "
                       "Das Quell-Thema wird danach gelöscht, Beitragslinks (/p/<id>) bleiben gültig.", body("Merge")),
    "/threads/{thread_id}/solution": _thread_action(
        "markSolution", "Eine Antwort als „Lösung“ markieren (Themen-Autor/in oder Moderation)", body("Solution")),
    "/threads/{thread_id}/best-practice": {
        "post": {"operationId": "markBestPractice", "summary": "Als Best Practice markieren", "description": MANAGERS,
                 "parameters": [path_id("thread_id")], "responses": {**ok("Thread"), **errors(400, 401, 403, 404)}},
        "delete": {"operationId": "unmarkBestPractice", "summary": "Best-Practice-Markierung entfernen",
                   "description": MANAGERS, "parameters": [path_id("thread_id")],
                   "responses": {**ok("Thread"), **errors(400, 401, 403, 404)}}},
    "/threads/{thread_id}/best-practice-proposals": {"post": {
        "operationId": "proposeBestPractice",
        "summary": "Best Practice für ein plattformweites Brett vorschlagen; alle Autor/innen werden um Zustimmung "
                   "gebeten, veröffentlicht wird eine Kopie erst, wenn alle zustimmen",
        "description": MANAGERS, "parameters": [path_id("thread_id")], "requestBody": _optional("ProposalRequest"),
        "responses": {**ok("Proposal", "201", "Vorschlag angelegt"), **errors(*WRITE_ERRORS, 409)}}},
    "/best-practice-proposals/{proposal_id}/consent": {"post": {
        "operationId": "decideConsent", "summary": "Zustimmen oder ablehnen (nur gefragte Autor/innen)",
        "parameters": [path_id("proposal_id")], "requestBody": body("Consent"),
        "responses": {**ok("Proposal"), **errors(*WRITE_ERRORS, 409)}}},
    "/posts/{post_id}/split": {"post": {
        "operationId": "splitThread", "summary": "Antwort mit ihren Antworten als neues Thema abtrennen",
        "description": MANAGERS, "parameters": [path_id("post_id")], "requestBody": body("Split"),
        "responses": {**ok("Thread", "201", "Neues Thema"), **errors(*WRITE_ERRORS)}}},
    "/posts/{post_id}/hide": {"post": {
        "operationId": "hidePost", "summary": "Beitrag ausblenden (Grund Pflicht)", "description": MANAGERS,
        "parameters": [path_id("post_id")], "requestBody": body("RequiredReason"),
        "responses": {**ok("Post"), **errors(*WRITE_ERRORS)}}},
    "/posts/{post_id}/unhide": {"post": {
        "operationId": "unhidePost", "summary": "Beitrag wieder einblenden", "description": MANAGERS,
        "parameters": [path_id("post_id")], "requestBody": _optional("Reason"),
        "responses": {**ok("Post"), **errors(*WRITE_ERRORS)}}},
    "/posts/{post_id}/reports": {"post": {
        "operationId": "reportPost", "summary": "Beitrag melden (Mitglieder)", "parameters": [path_id("post_id")],
        "requestBody": body("NewReport"),
        "responses": {**ok("Report", "201", "Meldung angelegt"), **errors(*WRITE_ERRORS, 409, 429)}}},
    "/clusters/{slug}/reports": {"get": {
        "operationId": "listReports", "summary": "Meldungen eines Clusters (offene: älteste zuerst)",
        "description": MANAGERS, "parameters": [
            SLUG, query("state", {**or_empty({"enum": ["open", "resolved", "all"]}), "default": "open"}, "Zustand"),
            *PAGING],
        "responses": {**ok("ReportPage"), **errors(400, 401, 403, 404)}}},
    "/reports/{report_id}/resolve": {"post": {
        "operationId": "resolveReport",
        "summary": "Meldung erledigen (alle offenen Meldungen desselben Beitrags); "
                   "die Meldenden erfahren es in der App",
        "description": MANAGERS, "parameters": [path_id("report_id")], "requestBody": body("ReportResolution"),
        "responses": {**ok("Report"), **errors(*WRITE_ERRORS, 409)}}},
    "/clusters/{slug}/modlog": {"get": {
        "operationId": "listModerationLog", "summary": "Moderationsprotokoll, neueste zuerst",
        "description": "Moderation des Clusters und Plattform-Admins; nie Mitglieder.",
        "parameters": [SLUG, query("action", TEXT, "Aktion, z. B. thread.lock"),
                       query("actor", TEXT, "Benutzername der handelnden Person"),
                       query("from", or_empty(DATE), "frühestes Datum (JJJJ-MM-TT)"),
                       query("to", or_empty(DATE), "spätestes Datum (JJJJ-MM-TT)"), *PAGING],
        "responses": {**ok("LogPage"), **errors(400, 401, 403, 404)}}},
}
PATHS["/threads/{thread_id}"] = {"patch": {
    "operationId": "editThread", "summary": "Titel und Themenfelder ändern", "description": MANAGERS,
    "parameters": [path_id("thread_id")], "requestBody": body("ThreadEdit"),
    "responses": {**ok("Thread"), **errors(*WRITE_ERRORS)}}}
