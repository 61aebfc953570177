"""Sanitising checked in a real browser.

Every vector of ``xss_vectors.py`` (300+) goes through the normal pipeline – the posting,
account and watching services and, for a few, the web forms in Chromium – as post body,
thread title, display name, Betrieb and Gewerk; it then shows up in search snippets and in
notification texts. Chromium opens the pages that print them – every list that shows all
vectors at once (the thread with one reply per vector, flat and as a tree, the board, the
member list, search results and notifications page by page), a sample of single thread
and profile pages (with every vector that tries to leave <title>/<textarea>/<style>),
quoting, the profile and new-thread forms and the live preview – with hooks that notice a
script that runs (``__pwn``, ``alert``/``confirm``/``prompt``/``print``), a dialog, a request
to any origin other than 127.0.0.1, a popup or foreign navigation, a JavaScript error and
dangerous markup left in the DOM (event-handler attributes, ``javascript:``/``data:`` URLs,
scripts, frames, objects, styles, evaluated template expressions).

The app's strict Content-Security-Policy would block an injected script and so hide a
sanitiser failure: this test's server strips that header (a WSGI wrapper on this test app
only; production keeps it), and a negative control – a test-only route that prints raw
payloads – must trip every detector, before and after the real pages, in the same browser
context.
"""
from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from collections import Counter, defaultdict
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import insert, select
from werkzeug.serving import make_server

from forum import create_app
from forum.errors import ValidationError
from forum.extensions import db
from forum.models import Post, Thread, User, Watch, utcnow
from forum.rendering import has_control_characters
from forum.search import service as search_service
from forum.services import accounts, posting, watching
from tests import factories
from tests.conftest import PG_URL, _reset_schema
from tests.e2e.conftest import CHROMIUM, LAUNCH_ARGS, _require_chromium, log_in
from tests.e2e.xss_vectors import SSTI_PRODUCT, VECTORS

try:
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # the fixtures skip (or fail under CI=true) with the reason
    PlaywrightError = Exception

# The sanitiser and the templates do not depend on the database: the 109 pages are opened once,
# in the SQLite run (CI time: the PostgreSQL run repeats every database-dependent test).
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(bool(PG_URL), reason="Browser-XSS-Prüfung läuft im SQLite-Lauf")]

SECRET = "xss-e2e-geheimnis-4711"
WORD = "Hobelbank"          # in every vector thread's opening post, so one search finds them all
SEARCHES = [WORD, "onerror", "script", "javascript", "style"]
RAW_TEXT_BREAKOUT = re.compile(r"</(title|textarea|style)", re.I)
CONTROL_PATH = "/__xss-kontrolle"
CONTROL_HTML = """<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Kontrolle</title></head>
<body><h1>Negativkontrolle: ungefilterte Nutzdaten</h1>
<img src=x onerror=__pwn(0)>
<script>alert(0)</script>
<script>document.body.appendChild(document.createElement('iframe')).contentWindow.alert('iframe')</script>
<script>window[Symbol.for('xss-native-alert')]('dialog')</script>
<img src="http://evil.invalid/kontrolle.png">
<a href="javascript:__pwn(0)">klick</a>
<div onmouseover="__pwn(0)">Maus</div>
</body></html>"""

# Runs in every frame before the page's own scripts: markers and dialogs are recorded (in
# the page and through a binding to Python), CSP violations too.
HOOKS_JS = """
(() => {
  const log = [];
  Object.defineProperty(window, '__xssLog', {value: log});
  const report = (kind, args) => {
    const detail = Array.prototype.map.call(args, a => String(a)).join(',');
    log.push(kind + ':' + detail);
    try { window.__xssReport(kind, detail, String(location.href)); } catch (e) { /* binding not ready */ }
  };
  window.__pwn = function () { report('pwn', arguments); };
  // the native alert stays reachable for the negative control only, to prove the dialog listener
  Object.defineProperty(window, Symbol.for('xss-native-alert'), {value: window.alert.bind(window)});
  for (const name of ['alert', 'confirm', 'prompt', 'print']) {
    window[name] = function () { report(name, arguments); return name === 'confirm' ? false : null; };
  }
  document.addEventListener('securitypolicyviolation',
    e => report('csp', [e.violatedDirective, e.blockedURI]), true);
})();
"""

SETTLE_JS = ("() => new Promise(done => requestAnimationFrame("
             "() => requestAnimationFrame(() => setTimeout(done, 30))))")

# What sanitised pages never contain: the app's own markup has no inline handlers, styles,
# frames or foreign URLs (its CSP would forbid them), so any of these came from user text.
AUDIT_JS = r"""
(args) => {
  const [ssti, secret] = args;
  const bad = [];
  const here = location.origin;
  const safeUrl = (value, allowMailto) => {
    let url;
    try { url = new URL(value, location.href); } catch (e) { return true; }  // unparsable: inert
    if (url.protocol === 'http:' || url.protocol === 'https:') return true;
    return allowMailto && url.protocol === 'mailto:';
  };
  const sameOrigin = value => {
    try { return new URL(value, location.href).origin === here; } catch (e) { return false; }
  };
  const describe = el => el.outerHTML.slice(0, 160);
  const forbidden = new Set(['iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'portal',
    'svg', 'math', 'style', 'img', 'image', 'video', 'audio', 'source', 'track', 'picture', 'map', 'area',
    'marquee', 'isindex', 'keygen', 'xmp', 'plaintext', 'listing', 'noembed', 'noscript', 'template']);
  for (const el of document.querySelectorAll('*')) {
    const tag = el.localName;
    if (forbidden.has(tag)) bad.push('Element <' + tag + '>: ' + describe(el));
    if (tag === 'script' && !(el.src && sameOrigin(el.src) && new URL(el.src).pathname.startsWith('/static/')))
      bad.push('Skript: ' + describe(el));
    if (tag === 'meta' && el.hasAttribute('http-equiv')) bad.push('meta http-equiv: ' + describe(el));
    if (tag === 'link' && !sameOrigin(el.href)) bad.push('fremdes link: ' + describe(el));
    if (tag === 'form' && !sameOrigin(el.action)) bad.push('fremdes Formular: ' + describe(el));
    for (const attr of Array.from(el.attributes)) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on')) bad.push('Ereignis-Attribut ' + name + ': ' + describe(el));
      if (name === 'style') bad.push('style-Attribut: ' + describe(el));
      if (['srcdoc', 'formaction', 'xlink:href', 'background', 'ping', 'poster', 'dynsrc', 'lowsrc', 'data',
           'src', 'srcset', 'codebase'].includes(name) && tag !== 'script') {
        bad.push('Attribut ' + name + ': ' + describe(el));
      }
      if (name === 'href' && !safeUrl(attr.value, tag === 'a')) bad.push('unsichere URL: ' + describe(el));
      if (name === 'action' && !safeUrl(attr.value, false)) bad.push('unsichere Formular-URL: ' + describe(el));
    }
  }
  const html = document.documentElement.outerHTML;
  if (html.includes(ssti)) bad.push('Template-Ausdruck ausgewertet (' + ssti + ')');
  if (html.includes(secret) || document.body.textContent.includes('<Config ')) bad.push('Konfiguration ausgegeben');
  return bad;
}
"""


# -- the server: the app without its CSP, plus the negative control ----------------------------

def _without_csp(wsgi_app):
    """Drops Content-Security-Policy from every answer, so the browser would run what slipped through."""
    def app(environ, start_response):
        def start(status, headers, exc_info=None):
            kept = [(k, v) for k, v in headers if k.lower() != "content-security-policy"]
            return start_response(status, kept, exc_info)
        return wsgi_app(environ, start)
    return app


def _control():
    return CONTROL_HTML, 200, {"Content-Type": "text/html; charset=utf-8"}


@dataclasses.dataclass
class Site:
    app: object
    base: str
    cluster_slug: str
    board_id: int
    big_thread_id: int
    thread_ids: list[int]
    usernames: list[str]
    stored: Counter          # field → vectors stored as given
    rejected: dict           # field → vector numbers the pipeline refused (German validation message)


def _attempt(call, values: dict, fallbacks: dict, numbers: dict, stored: Counter, rejected: dict):
    """``call(**values)`` with the vectors; a field that validation refuses (with its German
    message) is noted and replaced by harmless text, so the page still shows the item."""
    original = dict(values)
    while True:
        try:
            result = call(**values)
        except ValidationError as error:
            db.session.rollback()
            if error.field not in fallbacks or values[error.field] == fallbacks[error.field] or not error.message:
                raise
            rejected[error.field].append(numbers[error.field])
            values[error.field] = fallbacks[error.field]
            continue
        stored.update(field for field in fallbacks if values[field] == original[field])
        return result


def _fill(world: factories.World) -> dict:
    """Through the services, as members would: one member per vector (display name, Betrieb
    and Gewerk are vectors), who starts a thread with the vector as title and in its opening
    post; mia.member watches the board, so each new thread is a notification naming both.
    One more thread holds every vector as a reply of its own by that member (display names in
    post headers and in the inline-reply button's attribute), some nested so the flat view
    prints "Antwort an <display name>"."""
    stored: Counter = Counter()
    rejected: dict = defaultdict(list)
    total = len(VECTORS)
    board = world.board_a
    watching.set_level(world.member, "board", board.id, watching.WATCHING)
    people: list[User] = []
    thread_ids: list[int] = []
    for index, vector in enumerate(VECTORS):
        number = index + 1
        name = f"xss{number:03d}"
        numbers = {"display_name": number, "company": (index + 1) % total + 1, "trade": (index + 2) % total + 1}
        person = _attempt(
            lambda name=name, **fields: factories.member(world.cluster_a, accounts.create_user(
                name, f"{name}@example.org", factories.PASSWORD, commit=False, **fields)),
            {field: VECTORS[n - 1] for field, n in numbers.items()},
            {"display_name": f"Vektor {number}", "company": "", "trade": ""}, numbers, stored, rejected)
        people.append(person)
        thread = _attempt(lambda title, body, person=person: posting.create_thread(person, board, title, body),
                          {"title": vector, "body": f"{WORD}: {vector}"},
                          {"title": f"Vektor {number}", "body": f"{WORD}: Vektor {number}"},
                          {"title": number, "body": number}, stored, rejected)
        thread_ids.append(thread.id)

    big = posting.create_thread(world.manager, board, "Alle Vektoren", "Jede Antwort ist ein Vektor.")
    # Scaffolding, not under test: everyone mutes the big thread up front (one statement), so
    # each reply does not notify every earlier replier (n² rows) and mia's list stays the threads.
    watching.set_level(world.manager, "thread", big.id, watching.MUTED)  # he started it: already watching
    db.session.execute(insert(Watch), [
        {"user_id": person.id, "target_type": "thread", "target_id": big.id, "level": watching.MUTED,
         "created_at": utcnow()} for person in [world.member, *people]])
    db.session.commit()
    previous = None
    for index, vector in enumerate(VECTORS):
        parent = previous.id if previous is not None and index % 3 == 2 else None
        previous = _attempt(lambda body, index=index, parent=parent: posting.reply(people[index], big, body, parent),
                            {"body": f"@max.manager {vector}"}, {"body": f"@max.manager Vektor {index + 1}"},
                            {"body": index + 1}, Counter(), defaultdict(list))
    return {"thread_ids": thread_ids, "big_thread_id": big.id, "usernames": [p.username for p in people],
            "stored": stored, "rejected": {k: sorted(set(v)) for k, v in rejected.items()}}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    _require_chromium()
    folder = tmp_path_factory.mktemp("xss")
    app = create_app({
        "SECRET_KEY": SECRET,
        "SQLALCHEMY_DATABASE_URI": PG_URL or f"sqlite:///{folder / 'xss.db'}",
        "SEARCH_DIR": str(folder / "search_index"),
        "RATELIMIT_ENABLED": False,
        "POSTS_PER_PAGE": 1000, "THREADS_PER_PAGE": 1000,  # every vector on one page
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1,
    })
    app.add_url_rule(CONTROL_PATH, "xss_control", _control)  # test app only: the negative control
    app.wsgi_app = _without_csp(app.wsgi_app)
    started = time.monotonic()
    with app.app_context():
        _reset_schema()
        factories.seed_basics()
        world = factories.build_world()
        data = _fill(world)
        search_service.drain(wait=10.0)
        site = Site(app=app, base="", cluster_slug=world.cluster_a.slug, board_id=world.board_a.id, **data)
        db.session.remove()
    print(f"\n[xss] Daten über die Dienste angelegt in {time.monotonic() - started:.1f} s")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    site.base = f"http://127.0.0.1:{server.server_port}"
    try:
        yield site
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


# -- the browser with its detectors -------------------------------------------------------------

class Detectors:
    """Everything the browser context noticed; ``snapshot``/``since`` split it by phase."""

    def __init__(self, context):
        self.executions: list[tuple[str, str, str]] = []   # (kind, detail, url) from the hooks
        self.dialogs: list[str] = []
        self.foreign: list[str] = []
        self.popups: list[str] = []
        self.navigations: list[str] = []
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.dom: list[str] = []
        self.failures: list[str] = []   # pages that did not load, steps that broke
        self.pages = 0
        context.expose_binding("__xssReport",
                               lambda source, kind, detail, url: self.executions.append((kind, detail, url)))
        context.add_init_script(HOOKS_JS)
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname == "127.0.0.1":
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def watch(self, page) -> None:
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.on("console", lambda msg: self.console_errors.append(f"{page.url}: {msg.text}")
                if msg.type == "error" else None)
        page.on("websocket", lambda ws: self.foreign.append(ws.url))
        page.on("popup", lambda popup: self.popups.append(popup.url))
        page.on("framenavigated", self._navigated)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _navigated(self, frame) -> None:
        parts = urlsplit(frame.url)
        if frame.url not in ("about:blank", "about:srcdoc") and parts.hostname != "127.0.0.1":
            self.navigations.append(frame.url)

    def check(self, page) -> list[str]:
        """After a page has loaded: let timers, autofocus and animations run, then read the
        in-page log and audit the DOM. A page that navigates away on its own (meta refresh,
        script) is a finding too."""
        url = page.url
        try:
            page.evaluate(SETTLE_JS)
            log = page.evaluate("() => Array.from(window.__xssLog || [])")
            problems = [f"{url}: {p}" for p in page.evaluate(AUDIT_JS, [SSTI_PRODUCT, SECRET])]
        except PlaywrightError as error:
            self.failures.append(f"{url}: Seite nicht prüfbar (eigene Navigation?): {str(error).splitlines()[0]}")
            return []
        for entry in log:
            kind, _sep, detail = entry.partition(":")
            if (kind, detail, url) not in self.executions:
                self.executions.append((kind, detail, url))
        self.dom.extend(problems)
        return problems

    def visit(self, page, url: str) -> None:
        response = page.goto(url, wait_until="load")
        self.pages += 1
        if response is None or not response.ok:
            self.failures.append(f"{url}: HTTP {response and response.status}")
        elif "content-security-policy" in response.headers:
            self.failures.append(f"{url}: der Testserver muss ohne CSP ausliefern")
        self.check(page)

    def step(self, name: str, action) -> None:
        """A browser step whose failure is reported with the findings instead of hiding them."""
        try:
            action()
        except Exception as error:  # noqa: BLE001 – reported below, the test fails on it
            self.failures.append(f"{name}: {type(error).__name__}: {str(error).splitlines()[0]}")

    def snapshot(self) -> dict[str, int]:
        return {name: len(value) for name, value in vars(self).items() if isinstance(value, list)}

    def since(self, mark: dict[str, int]) -> dict[str, list]:
        return {name: getattr(self, name)[count:] for name, count in mark.items()}


@pytest.fixture(scope="module")
def browser_page(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        context = browser.new_context(locale="de-DE")
        context.set_default_timeout(20_000)
        detectors = Detectors(context)
        page = context.new_page()
        detectors.watch(page)
        try:
            yield page, detectors
        finally:
            browser.close()


def _run_control(page, detectors: Detectors, base: str) -> dict[str, list]:
    """The negative control: raw payloads on a test-only page must trip every detector."""
    mark = detectors.snapshot()
    page.goto(f"{base}{CONTROL_PATH}", wait_until="load")
    detectors.check(page)
    seen = detectors.since(mark)
    executions = {(kind, detail) for kind, detail, _url in seen["executions"]}
    assert ("pwn", "0") in executions, seen
    assert ("alert", "0") in executions, seen
    assert ("alert", "iframe") in executions, seen  # the hooks reach a fresh iframe's alert too
    assert "alert: dialog" in seen["dialogs"], seen  # a native dialog is caught as well
    assert any("evil.invalid" in url for url in seen["foreign"]), seen
    assert any("Ereignis-Attribut onerror" in p for p in seen["dom"]), seen
    assert any("unsichere URL" in p for p in seen["dom"]), seen
    return seen


def _visit_all_pages(page, detectors: Detectors, first_url: str) -> int:
    """A paginated list: the first page, then every ``rel=next`` page."""
    detectors.visit(page, first_url)
    count = 1
    while (following := page.locator("nav.pagination a[rel=next]")).count():
        detectors.visit(page, following.first.evaluate("a => a.href"))
        count += 1
    return count


def _post_through_forms(page, detectors: Detectors, site: Site) -> dict:
    """Profile form (display name, Betrieb) and the new-thread form with every vector in one
    post, previewed with and without JavaScript; then a revision of that post."""
    base = site.base
    made: dict = {}

    def profile():
        detectors.visit(page, f"{base}/konto")
        page.get_by_label("Anzeigename", exact=True).fill(VECTORS[15])
        page.get_by_label("Betrieb", exact=True).fill(VECTORS[30])
        page.get_by_role("button", name="Speichern").click()
        page.wait_for_load_state("load")
        detectors.pages += 1
        detectors.check(page)
        with site.app.app_context():
            mia = db.session.scalar(select(User).where(User.username == "mia.member"))
            assert (mia.display_name, mia.company) == (" ".join(VECTORS[15].split()), VECTORS[30])
            db.session.remove()

    combined = "\n\n".join(v for v in VECTORS if not has_control_characters(v))

    def new_thread():
        detectors.visit(page, f"{base}/b/{site.board_id}/neu")
        page.get_by_label("Titel", exact=True).fill(VECTORS[0])
        page.get_by_label("Beitrag", exact=True).fill(combined)  # the live preview: fetch, then innerHTML
        page.wait_for_function("() => !document.querySelector('[data-preview-target]').hidden")
        detectors.check(page)
        page.get_by_role("button", name="Vorschau").click()  # the preview without JavaScript
        page.wait_for_load_state("load")
        detectors.pages += 1
        detectors.check(page)
        page.get_by_role("button", name="Thema veröffentlichen").click()
        page.wait_for_url(re.compile(r"/t/\d+$"))
        detectors.pages += 1
        detectors.check(page)
        made["thread_id"] = int(page.url.rsplit("/", 1)[1])
        with site.app.app_context():
            thread = db.session.get(Thread, made["thread_id"])
            assert thread.title == VECTORS[0]
            post = db.session.get(Post, thread.first_post_id)
            posting.edit_post(post.author, post, combined + "\n\nNachtrag")
            made["post_id"] = post.id
            db.session.remove()
        detectors.visit(page, f"{base}/p/{made['post_id']}/versionen")

    detectors.step("Profilformular", profile)
    detectors.step("Formular Neues Thema", new_thread)
    return made


def _javascript_display_names(page, detectors: Detectors, site: Site) -> None:
    """Display names that the page's script handles: inline-reply headings, @mention suggestions."""
    detectors.visit(page, f"{site.base}/t/{site.big_thread_id}?view=flat")
    for link in page.locator("article.post a[data-reply-to]").all()[1:4]:
        link.click()
    textarea = page.locator("form[data-reply-form] textarea").first
    textarea.click()
    textarea.press_sequentially("@xss0")
    page.locator(".mention-suggestions li").first.wait_for()
    detectors.check(page)


def test_no_xss_vector_executes_anywhere_in_chromium(site, browser_page):
    page, detectors = browser_page
    base = site.base
    started = time.monotonic()

    page.goto(f"{base}/login", wait_until="load")
    assert detectors.check(page) == [], "das DOM-Audit meldet schon eine saubere Seite"
    control_before = _run_control(page, detectors, base)

    log_in(page, base, "mia.member")
    mark = detectors.snapshot()
    detectors.pages = 0
    with site.app.app_context():
        quoted = db.session.scalars(select(Post.id).where(Post.thread_id == site.big_thread_id)
                                    .order_by(Post.id).offset(1).limit(3)).all()
        db.session.remove()
    urls = [f"{base}/", f"{base}/c/{site.cluster_slug}", f"{base}/c/{site.cluster_slug}/mitglieder",
            f"{base}/b/{site.board_id}", f"{base}/t/{site.big_thread_id}?view=flat", f"{base}/t/{site.big_thread_id}"]
    urls += [f"{base}/t/{site.big_thread_id}/antworten?parent={post_id}&zitat=1" for post_id in quoted]
    urls += [f"{base}/search?q={quote(VECTORS[15])}"]  # the query itself echoed in title, field and heading
    # The big thread, board, member list, search and notifications print every vector; a
    # thread's or profile's own page adds the <title> context: a sample, with every vector
    # that tries to close a <title>, <textarea> or <style>.
    sample = [i for i, vector in enumerate(VECTORS) if i % 15 == 0 or RAW_TEXT_BREAKOUT.search(vector)]
    urls += [f"{base}/t/{site.thread_ids[i]}" for i in sample]
    urls += [f"{base}/u/{site.usernames[i]}" for i in sample]
    for url in urls:
        detectors.step(url, lambda url=url: detectors.visit(page, url))
    counts: Counter = Counter()
    for q in SEARCHES:
        detectors.step(f"Suche {q}", lambda q=q: counts.update(search=_visit_all_pages(
            page, detectors, f"{base}/search?q={quote(q)}&per_page=100")))
    detectors.step("Benachrichtigungen", lambda: counts.update(
        notifications=_visit_all_pages(page, detectors, f"{base}/benachrichtigungen")))
    detectors.step("Benachrichtigungen vorhanden", lambda: page.locator(".notification-item").first.wait_for())
    detectors.step("Anzeigenamen im Skript", lambda: _javascript_display_names(page, detectors, site))
    made = _post_through_forms(page, detectors, site)
    if "thread_id" in made:
        detectors.step("Thema aus dem Formular", lambda: detectors.visit(page, f"{base}/t/{made['thread_id']}"))
    for url in (f"{base}/u/mia.member", f"{base}/"):  # her display name and Betrieb from the form
        detectors.step(url, lambda url=url: detectors.visit(page, url))

    seen = detectors.since(mark)
    elapsed = time.monotonic() - started
    print(f"\n[xss] Vektoren: {len(VECTORS)} verschiedene; angenommen je Feld: {dict(site.stored)}; "
          f"von der Validierung abgelehnt (Vektornummern) je Feld: {site.rejected}")
    print(f"[xss] Seiten geöffnet: {detectors.pages} (Suche {counts['search']}, "
          f"Benachrichtigungen {counts['notifications']}) "
          f"in {elapsed:.1f} s")
    print(f"[xss] echte Seiten: Ausführungen {len(seen['executions'])}, Dialoge {len(seen['dialogs'])}, "
          f"fremde Anfragen {len(seen['foreign'])}, Popups {len(seen['popups'])}, "
          f"fremde Navigationen {len(seen['navigations'])}, JS-Fehler {len(seen['page_errors'])}, "
          f"Konsolenfehler {len(seen['console_errors'])}, DOM-Befunde {len(seen['dom'])}, "
          f"Fehlschläge {len(seen['failures'])}")
    findings = {name: values[:15] for name, values in seen.items() if values}
    assert not findings, json.dumps(findings, indent=1, ensure_ascii=False)

    # the detectors were alive all along: the control trips them again in the same context
    control_after = _run_control(page, detectors, base)
    print("[xss] Negativkontrolle vorher/nachher: " + ", ".join(
        f"{name} {len(control_before[name])}/{len(control_after[name])}"
        for name in ("executions", "dialogs", "foreign", "dom")))
