"""OpenAPI paths and schemas of ``forum/api/membership.py``, merged in ``openapi.document``."""
from __future__ import annotations

from forum.api.openapi import (
    ID,
    NULLABLE_STAMP,
    PAGE_FIELDS,
    PAGING,
    STAMP,
    TEXT,
    WRITE_ERRORS,
    body,
    errors,
    nullable,
    obj,
    ok,
    ref,
)

SLUG = {"name": "slug", "in": "path", "required": True, "schema": TEXT}
ROLE = {"enum": ["member", "manager"]}

SCHEMAS = {
    "NewInvite": obj({"email": {"type": "string", "format": "email", "maxLength": 254},
                      "role": {**ROLE, "default": "member"}}, ["email"]),
    "InviteCreated": obj({"invite_url": {"type": "string",
                                         "description": "der Link aus der E-Mail (gilt 14 Tage, einmal)"}}),
    "Invitation": obj({"id": ID, "email": TEXT, "role": ROLE,
                       "state": {"enum": ["offen", "angenommen", "widerrufen", "abgelaufen"]},
                       "sent_at": STAMP, "expires_at": STAMP, "accepted_by": nullable("Author")}),
    "InvitationPage": obj({"items": {"type": "array", "items": ref("Invitation")}, **PAGE_FIELDS}),
    "Member": obj({"user": ref("Author"), "role": ROLE, "state": {"enum": ["active", "suspended"]},
                   "suspension_reason": TEXT, "suspended_until": NULLABLE_STAMP, "joined_at": STAMP,
                   "last_seen_at": NULLABLE_STAMP}),
    "MemberPage": obj({"items": {"type": "array", "items": ref("Member")}, **PAGE_FIELDS}),
    "InviteAcceptance": obj({"username": TEXT, "password": {"type": "string", "minLength": 10},
                             "display_name": TEXT, "company": TEXT, "trade": TEXT, "region": TEXT}, [],
                            description="Nur ohne Anmeldung: legt ein Konto an (Benutzername und Passwort "
                                        "nötig). Angemeldet genügt ein leerer Aufruf."),
}

PATHS = {
    "/clusters/{slug}/invites": {
        "post": {
            "operationId": "createInvite", "summary": "Eine E-Mail-Adresse einladen (Clustermanager:innen)",
            "description": "Schickt die Einladung per E-Mail; eine offene Einladung an dieselbe Adresse bekommt "
                           "einen neuen Link. 409, wenn die Person schon Mitglied ist.",
            "parameters": [SLUG], "requestBody": body("NewInvite"),
            "responses": {**ok("InviteCreated", "201", "Einladung verschickt"), **errors(*WRITE_ERRORS, 409, 429)}},
        "get": {
            "operationId": "listInvites", "summary": "Einladungen des Clusters mit Status (Clustermanager:innen)",
            "parameters": [SLUG, *PAGING],
            "responses": {**ok("InvitationPage"), **errors(400, 401, 403, 404)}}},
    "/clusters/{slug}/members": {"get": {
        "operationId": "listMembers",
        "summary": "Mitglieder mit Rolle, Status und letzter Aktivität (Clustermanager:innen)",
        "parameters": [SLUG, *PAGING],
        "responses": {**ok("MemberPage"), **errors(400, 401, 403, 404)}}},
    "/invites/{token}/accept": {"post": {
        "operationId": "acceptInvite", "summary": "Einladung annehmen: angemeldet beitreten oder Konto anlegen",
        "security": [{"bearer": []}, {"session": []}, {}],
        "parameters": [{"name": "token", "in": "path", "required": True, "schema": TEXT}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": ref("InviteAcceptance")}}},
        "responses": {**ok("Membership", "200", "Mitgliedschaft"), **errors(400, 401, 403, 409, 413, 415, 429)}}},
}

