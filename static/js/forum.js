/* Clusterforum: small progressive enhancements. Every feature works without this file. */
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = meta ? meta.getAttribute("content") : "";

  /* Live Markdown preview: the same renderer as saving, debounced. */
  function attachPreview(textarea) {
    var url = textarea.getAttribute("data-preview-url");
    var form = textarea.form;
    if (!url || !form || textarea.hasAttribute("data-preview-ready")) { return; }
    textarea.setAttribute("data-preview-ready", "");
    var box = form.querySelector("[data-preview-target]");
    if (!box) { return; }
    var body = box.querySelector(".preview-body");
    var timer = null;
    var last = null;
    function update() {
      var text = textarea.value;
      if (text === last) { return; }
      last = text;
      if (!text.trim()) { box.hidden = true; body.innerHTML = ""; return; }
      var data = new FormData();
      data.append("body", text);
      fetch(url, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken, "X-Requested-With": "fetch" }
      }).then(function (response) {
        return response.ok ? response.text() : null;
      }).then(function (html) {
        if (html === null || text !== textarea.value) { return; }
        body.innerHTML = html; /* sanitised server-side by forum.rendering */
        box.hidden = false;
      }).catch(function () { /* offline: the "Vorschau" button still works */ });
    }
    textarea.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, 500);
    });
    if (textarea.value.trim()) { update(); }
  }

  /* Inline reply forms: "Antworten" under a post opens the reply form right there. */
  var template = document.querySelector("[data-reply-form]");
  var counter = 0;

  function openInlineReply(link) {
    var article = link.closest("article.post");
    if (!article || !template) { return false; }
    var existing = article.querySelector(".inline-reply");
    if (existing) { existing.querySelector("textarea").focus(); return true; }
    counter += 1;
    var wrapper = document.createElement("div");
    wrapper.className = "inline-reply";
    var heading = document.createElement("h3");
    heading.textContent = link.getAttribute("data-reply-label") || "";
    heading.className = "inline-reply-title";
    wrapper.appendChild(heading);
    var form = template.cloneNode(true);
    form.removeAttribute("data-reply-form");
    form.removeAttribute("data-cancel-label");
    Array.prototype.forEach.call(form.querySelectorAll("[id]"), function (el) {
      var oldId = el.id;
      el.id = oldId + "-inline-" + counter;
      var label = form.querySelector('label[for="' + oldId + '"]');
      if (label) { label.setAttribute("for", el.id); }
    });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-describedby]"), function (el) {
      el.setAttribute("aria-describedby", el.getAttribute("aria-describedby").split(" ").map(function (id) {
        return id + "-inline-" + counter;
      }).join(" "));
    });
    var parent = form.querySelector('input[name="parent_id"]');
    if (parent) { parent.value = link.getAttribute("data-reply-to"); }
    var textarea = form.querySelector("textarea");
    textarea.value = "";
    textarea.removeAttribute("data-preview-ready");
    var preview = form.querySelector("[data-preview-target]");
    if (preview) { preview.hidden = true; preview.querySelector(".preview-body").innerHTML = ""; }
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button";
    cancel.textContent = template.getAttribute("data-cancel-label") || "×";
    cancel.addEventListener("click", function () { wrapper.remove(); link.focus(); });
    form.querySelector(".form-actions").appendChild(cancel);
    wrapper.appendChild(form);
    article.appendChild(wrapper);
    attachPreview(textarea);
    textarea.focus();
    return true;
  }

  /* Confirm before deleting: a POST with the page's CSRF token; without JS the link leads
     to a confirmation page instead. */
  function confirmDelete(link) {
    if (!window.confirm(link.getAttribute("data-confirm"))) { return; }
    var form = document.createElement("form");
    form.method = "post";
    form.action = link.href;
    var token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = csrfToken;
    form.appendChild(token);
    document.body.appendChild(form);
    form.submit();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-reply-to], a[data-confirm]") : null;
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    if (link.hasAttribute("data-confirm")) {
      event.preventDefault();
      confirmDelete(link);
    } else if (openInlineReply(link)) {
      event.preventDefault();
    }
  });

  Array.prototype.forEach.call(document.querySelectorAll("textarea[data-preview-url]"), attachPreview);

  /* Read mark: a thread page tells the server, by a POST, which posts it showed (a GET never
     writes). Without JavaScript the form's button does the same. */
  var readMark = document.querySelector("form[data-read-mark]");
  if (readMark && window.fetch && window.FormData) {
    fetch(readMark.action, {
      method: "POST", body: new FormData(readMark), credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken, "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (response.ok) { readMark.hidden = true; }
    }).catch(function () { /* offline: the button still works */ });
  }
})();

/* -- notifications: @mention suggestions among the people who can see the thread. Without
   JavaScript, typing @username works the same; this only offers names. */
(function () {
  "use strict";
  var counter = 0;

  function attachMentions(textarea) {
    var url = textarea.getAttribute("data-mention-url");
    if (!url || textarea.mentionReady) { return; }
    textarea.mentionReady = true; /* a property, not an attribute: cloned inline forms attach anew */
    counter += 1;
    var list = document.createElement("ul");
    list.className = "mention-suggestions";
    list.id = "mention-suggestions-" + counter;
    list.setAttribute("role", "listbox");
    list.hidden = true;
    textarea.insertAdjacentElement("afterend", list);
    textarea.setAttribute("aria-controls", list.id);
    var items = [];
    var active = -1;
    var timer = null;
    var range = null;

    function close() { list.hidden = true; list.innerHTML = ""; items = []; active = -1; }

    function choose(index) {
      if (!range || !items[index]) { return; }
      var text = textarea.value;
      var insert = "@" + items[index].username + " ";
      textarea.value = text.slice(0, range[0]) + insert + text.slice(range[1]);
      var caret = range[0] + insert.length;
      textarea.setSelectionRange(caret, caret);
      close();
      textarea.focus();
    }

    function highlight(index) {
      active = index;
      Array.prototype.forEach.call(list.children, function (li, i) {
        li.setAttribute("aria-selected", i === index ? "true" : "false");
      });
    }

    function show(found) {
      list.innerHTML = "";
      items = found;
      if (!found.length) { close(); return; }
      found.forEach(function (person, i) {
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        li.textContent = person.display_name + " (@" + person.username + ")";
        li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      list.hidden = false;
      highlight(0);
    }

    function lookup() {
      var caret = textarea.selectionStart;
      var before = textarea.value.slice(0, caret);
      var match = /(^|[^\w@.\/+-])@([a-z0-9._-]{1,40})$/i.exec(before);
      if (!match) { close(); return; }
      range = [caret - match[2].length - 1, caret];
      fetch(url + "?q=" + encodeURIComponent(match[2]), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { items: [] }; })
        .then(function (data) { show(data.items || []); })
        .catch(close);
    }

    textarea.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookup, 200);
    });
    textarea.addEventListener("keydown", function (event) {
      if (list.hidden) { return; }
      if (event.key === "ArrowDown") { event.preventDefault(); highlight((active + 1) % items.length); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight((active - 1 + items.length) % items.length); }
      else if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); choose(active); }
      else if (event.key === "Escape") { close(); }
    });
    textarea.addEventListener("blur", function () { window.setTimeout(close, 150); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("textarea[data-mention-url]"), attachMentions);
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-mention-url]")) { attachMentions(event.target); }
  });
})();
