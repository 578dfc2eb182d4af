/* Clinic FAQ chat widget. Embed with:
 *   <script src="https://faq.example-clinic.com/widget.js" defer data-title="Questions?"></script>
 * Options (data- attributes): data-title, data-greeting, data-accent, data-position (left|right),
 * data-starters ("Question one|Question two"), data-api (API base; defaults to this script's origin).
 * No dependencies, no third-party requests. Everything lives in an open Shadow DOM and every
 * text from the server or the visitor is inserted with textContent, never as HTML. */
(function () {
  "use strict";
  // Captured now: document.currentScript is only set while this script is being evaluated.
  var script = document.currentScript ||
    [].slice.call(document.querySelectorAll("script[src*='widget.js']")).pop();
  if (window.__faqChatWidget) return;
  window.__faqChatWidget = true;

  var d = (script && script.dataset) || {};
  var API = new URL(d.api || new URL(script && script.src || location.href, location.href).origin,
    location.href).href.replace(/\/+$/, "");
  var TITLE = d.title || "Questions? Ask us";
  var GREETING = d.greeting || "Hi! I can answer questions about ketamine infusion therapy from our clinic's article. What would you like to know?";
  var STARTERS = d.starters != null ? d.starters.split("|").map(function (s) { return s.trim(); }).filter(Boolean) : [
    "What is ketamine infusion?",
    "How does ketamine infusion work?",
    "How much does ketamine infusion cost?",
    "Is ketamine infusion covered by insurance?",
    "Are there any risks associated with ketamine infusion?"
  ];
  var ACCENT = "#0e6a73"; // 6.3:1 against white text (WCAG AA needs 4.5:1)
  if (d.accent && window.CSS && CSS.supports("color", d.accent)) ACCENT = d.accent;
  var KEY = "faqbot:" + API;
  var HISTORY_TURNS = 10; // role/content turns sent with each question
  var NET_ERROR = "Sorry, we couldn't reach the clinic's assistant. Check your connection and try again.";

  var CSS_TEXT =
    ":host{all:initial!important}" +
    ".root{font:14.5px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:#1f2328;text-align:left;letter-spacing:normal;word-spacing:normal;text-transform:none;-webkit-font-smoothing:antialiased}" +
    "*,*::before,*::after{box-sizing:border-box}" +
    "[hidden]{display:none!important}" +
    "button,input{font:inherit;color:inherit;margin:0;letter-spacing:inherit;text-transform:none}" +
    "button{cursor:pointer}" +
    ":focus-visible{outline:2px solid #1f2328;outline-offset:2px}" +
    "svg{width:24px;height:24px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round;flex:none}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    ".launcher{position:fixed;bottom:20px;right:20px;z-index:2147483000;width:58px;height:58px;padding:0;border:2px solid transparent;border-radius:50%;background:var(--a);color:var(--on);box-shadow:0 6px 20px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;transition:transform .15s}" +
    ".launcher:hover{transform:scale(1.06)}" +
    ".launcher:focus-visible{outline:3px solid var(--a);outline-offset:3px;box-shadow:0 0 0 3px #fff}" +
    ".launcher svg{width:28px;height:28px}" +
    ".panel{position:fixed;bottom:92px;right:20px;z-index:2147483001;width:380px;max-width:calc(100vw - 40px);height:600px;max-height:calc(100vh - 112px);display:flex;flex-direction:column;background:#fff;border:1px solid rgba(0,0,0,.08);border-radius:16px;box-shadow:0 12px 48px rgba(0,0,0,.25);overflow:hidden}" +
    ".left .launcher,.left .panel{right:auto;left:20px}" +
    "header{display:flex;align-items:center;gap:4px;padding:12px 10px 12px 18px;background:var(--a);color:var(--on)}" +
    "h2{flex:1;margin:0;font-size:16px;font-weight:600;line-height:1.3}" +
    ".icon{width:36px;height:36px;padding:0;border:0;border-radius:8px;background:transparent;display:flex;align-items:center;justify-content:center}" +
    ".icon:hover{background:rgba(127,127,127,.25)}" +
    ".icon svg{width:20px;height:20px}" +
    "header :focus-visible{outline-color:currentColor}" +
    ".scroll{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:16px 14px 8px}" +
    ".log{display:flex;flex-direction:column;gap:12px}" +
    ".row{display:flex;flex-direction:column;align-items:flex-start;max-width:88%}" +
    ".row.user{align-self:flex-end;align-items:flex-end}" +
    ".msg{padding:9px 13px;border:1px solid transparent;border-radius:14px;background:#f1f3f5;white-space:pre-line;overflow-wrap:anywhere}" +
    ".msg p{margin:0}.msg p+p{margin-top:8px}" +
    ".msg a{color:inherit;text-decoration:underline}" +
    ".bot .msg{border-bottom-left-radius:4px}" +
    ".user .msg{background:var(--a);color:var(--on);border-bottom-right-radius:4px}" +
    ".crisis .msg{background:#fff5f5;border:2px solid #b3261e;border-radius:10px;color:#1f2328}" +
    ".crisis .msg::before{content:'If you need help now';display:block;font-weight:700;color:#b3261e;margin-bottom:4px}" +
    ".error .msg{background:#fff8e5;border-color:#c28a00;border-radius:10px}" +
    ".retry{margin-top:8px;padding:5px 14px;border:1px solid #8a6100;border-radius:999px;background:#fff;font-weight:600}" +
    ".retry:hover{background:#fdf1cf}" +
    ".cites{margin:6px 0 0;padding:0;list-style:none;display:flex;flex-wrap:wrap;gap:6px;font-size:13px}" +
    ".cites a{display:inline-flex;align-items:center;gap:4px;padding:3px 10px;border:1px solid #d0d7de;border-radius:999px;background:#fff;color:var(--link);text-decoration:none;line-height:1.4}" +
    ".cites a:hover{border-color:var(--link);text-decoration:underline}" +
    ".cites svg{width:12px;height:12px}" +
    ".label{font-size:12px;color:#57606a;margin-top:6px}" +
    ".starters{display:flex;flex-direction:column;align-items:flex-start;gap:6px;margin-top:14px}" +
    ".starters button{padding:6px 12px;border:1px solid var(--link);border-radius:999px;background:#fff;color:var(--link);text-align:left;line-height:1.35}" +
    ".starters button:hover{background:#f1f3f5}" +
    ".picks{display:flex;flex-direction:column;gap:6px;margin:8px 0}" +
    ".picks button{padding:6px 12px;border:1px solid var(--link);border-radius:10px;background:#fff;text-align:left;line-height:1.35}" +
    ".picks button:hover{background:#f1f3f5}" +
    ".picks b{display:block;color:var(--link)}" +
    ".picks small{display:block;font-size:13px;color:#57606a}" +
    ".typing{margin-top:12px;display:inline-flex;gap:4px;padding:13px 14px;border-radius:14px;border-bottom-left-radius:4px;background:#f1f3f5}" +
    ".typing i{width:7px;height:7px;border-radius:50%;background:#57606a;animation:b 1.2s infinite ease-in-out}" +
    ".typing i:nth-child(2){animation-delay:.15s}.typing i:nth-child(3){animation-delay:.3s}" +
    "@keyframes b{0%,60%,100%{opacity:.3;transform:none}30%{opacity:1;transform:translateY(-3px)}}" +
    "form{display:flex;gap:8px;padding:10px 12px 4px;border-top:1px solid #e5e7eb}" +
    "input{flex:1;min-width:0;padding:9px 12px;border:1px solid #8c959f;border-radius:10px;background:#fff;color:#1f2328;font-size:15px}" +
    "input::placeholder{color:#6e7781;opacity:1}" +
    "input:focus{outline:2px solid var(--link);outline-offset:-1px;border-color:transparent}" +
    ".send{width:42px;height:42px;padding:0;border:2px solid transparent;border-radius:10px;background:var(--a);color:var(--on);display:flex;align-items:center;justify-content:center}" +
    ".send[aria-disabled=true]{opacity:.55;cursor:default}" +
    ".send svg{width:20px;height:20px}" +
    ".note{margin:0;padding:4px 14px 10px;font-size:12px;line-height:1.4;color:#57606a}" +
    ".note a{color:inherit}" +
    "@media (max-width:480px){.panel,.left .panel{inset:0;width:100%;max-width:none;height:100%;max-height:none;border:0;border-radius:0}" +
    ".open .launcher{display:none}input{font-size:16px}}" +
    "@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}" +
    "@media (forced-colors:active){.launcher,.send,.msg,.cites a{border:1px solid CanvasText}}";

  var ICONS = {
    chat: "M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z",
    close: "M6 6l12 12M18 6L6 18",
    send: "M4 12l16-8-6 16-2.5-6.5z",
    restart: "M3 12a9 9 0 1 0 3-6.7M3 4v5h5",
    out: "M14 4h6v6M20 4l-9 9M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5"
  };

  function el(tag, attrs, kids) {
    var n = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") n.textContent = attrs[k];
      else if (attrs[k] != null && attrs[k] !== false) n.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { n.append(c); });
    return n;
  }
  function icon(name) {
    var ns = "http://www.w3.org/2000/svg", s = document.createElementNS(ns, "svg"), p = document.createElementNS(ns, "path");
    s.setAttribute("viewBox", "0 0 24 24");
    s.setAttribute("aria-hidden", "true");
    s.setAttribute("focusable", "false");
    p.setAttribute("d", ICONS[name]);
    s.append(p);
    return s;
  }

  // Colours: text on the accent is white when that reaches 4.5:1, else near-black.
  function luminance(color) {
    try {
      var c = document.createElement("canvas").getContext("2d");
      c.fillStyle = color;
      c.fillRect(0, 0, 1, 1);
      var px = c.getImageData(0, 0, 1, 1).data;
      return [0, 1, 2].map(function (i) {
        var v = px[i] / 255;
        return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
      }).reduce(function (sum, v, i) { return sum + v * [0.2126, 0.7152, 0.0722][i]; }, 0);
    } catch (e) { return 0; }
  }
  var onWhite = 1.05 / (luminance(ACCENT) + 0.05); // contrast of the accent against white
  var ON_ACCENT = onWhite >= 4.5 ? "#fff" : "#1f2328";
  var LINK = onWhite >= 4.5 ? ACCENT : "#1f2328";

  // State, kept in sessionStorage so the conversation follows the visitor across pages.
  var state = { open: false, msgs: [] };
  try {
    var saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (saved && Array.isArray(saved.msgs)) {
      state.open = !!saved.open;
      state.msgs = saved.msgs.filter(function (m) {
        return m && (m.role === "user" || m.role === "assistant") && typeof m.content === "string";
      });
    }
  } catch (e) { /* storage unavailable: the conversation lasts for this page */ }
  function save() {
    state.msgs = state.msgs.slice(-60);
    try { sessionStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* ignore */ }
  }

  // Build the DOM.
  var host = document.createElement("faq-chat-widget");
  var shadow = host.attachShadow({ mode: "open" });
  if (shadow.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS_TEXT);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(el("style", { text: CSS_TEXT }));
  }
  var uid = "faqbot-" + Math.random().toString(36).slice(2, 8);
  var launcher = el("button", { type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": uid, "aria-label": "Open chat" }, [icon("chat")]);
  var title = el("h2", { id: uid + "-t", text: TITLE });
  var restart = el("button", { type: "button", class: "icon", "aria-label": "Start a new chat", title: "Start a new chat" }, [icon("restart")]);
  var close = el("button", { type: "button", class: "icon", "aria-label": "Close chat", title: "Close" }, [icon("close")]);
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  var starters = el("div", { class: "starters", role: "group", "aria-label": "Suggested questions" });
  var typing = el("div", { class: "typing", role: "status", hidden: "" }, [el("span", { class: "sr", text: "The assistant is typing" }), el("i"), el("i"), el("i")]);
  var input = el("input", { type: "text", "aria-label": "Your question", placeholder: "Type your question…", maxlength: "1000", autocomplete: "off", enterkeyhint: "send" });
  var send = el("button", { type: "submit", class: "send", "aria-label": "Send question" }, [icon("send")]);
  var form = el("form", { novalidate: "" }, [input, send]);
  var note = el("p", { class: "note" }, [
    "General information from the clinic's article, not medical advice. In an emergency, call ",
    el("a", { href: "tel:911", text: "911" }), "."
  ]);
  var scroll = el("div", { class: "scroll" }, [log, starters, typing]);
  var panel = el("div", { class: "panel", id: uid, role: "dialog", "aria-labelledby": uid + "-t", hidden: "" }, [
    el("header", { role: "none" }, [title, restart, close]), scroll, form, note
  ]);
  var root = el("div", { class: "root" + (d.position === "left" ? " left" : ""), lang: "en" }, [panel, launcher]);
  root.style.setProperty("--a", ACCENT);
  root.style.setProperty("--on", ON_ACCENT);
  root.style.setProperty("--link", LINK);
  shadow.append(root);

  // Messages.
  var LINKS = /([\w.+-]+@[\w-]+(?:\.[\w-]+)+)|((?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b)|(\b(?:[a-z0-9-]+\.)+(?:org|com|gov|net)\b)/gi;
  var CRISIS_NUMBERS = /\b(988|911)\b/g;

  function linkify(parent, text, crisis) {
    var re = crisis ? new RegExp(LINKS.source + "|" + CRISIS_NUMBERS.source, "gi") : new RegExp(LINKS.source, "gi");
    var last = 0, m;
    while ((m = re.exec(text))) {
      parent.append(text.slice(last, m.index));
      var href = m[1] ? "mailto:" + m[1] : m[3] ? "https://" + m[3] : "tel:" + m[0].replace(/[^\d+]/g, "");
      var a = el("a", { href: href, text: m[0] });
      if (m[3]) { a.target = "_blank"; a.rel = "noopener"; }
      parent.append(a);
      last = re.lastIndex;
    }
    parent.append(text.slice(last));
  }

  // A citation URL is relative to the API (e.g. "/source/doc#section"); only http(s) links are shown.
  function resolve(url) {
    try {
      var u = /^\/(?!\/)/.test(url) ? new URL(API + url) : new URL(url, API + "/");
      return /^https?:$/.test(u.protocol) ? u.href : null;
    } catch (e) { return null; }
  }

  function bubble(kind, text, crisis) {
    var box = el("div", { class: "msg" }, [el("span", { class: "sr", text: kind === "user" ? "You said: " : "Assistant: " })]);
    text.split(/\n\s*\n/).forEach(function (para) {
      var p = el("p");
      linkify(p, para.trim(), crisis);
      box.append(p);
    });
    return box;
  }

  // The bot is unsure: its first line, a button per section (named "Conclusion: It may..."), the contacts.
  function offer(m) {
    var paras = m.content.split(/\n\s*\n/), box = bubble("bot", m.content.split("\n")[0]);
    var group = el("div", { class: "picks", role: "group", "aria-label": "Closest sections" });
    m.suggestions.forEach(function (s) {
      var b = el("button", { type: "button", "aria-label": s.section + (/\w$/.test(s.section) ? ": " : " ") + s.preview },
        [el("b", { text: s.section }), el("small", { text: s.preview })]);
      b.addEventListener("click", function () {
        input.focus();
        ask(s.section, false, { message: m.asked.message, section: s.key, history: m.asked.history });
      });
      group.append(b);
    });
    box.append(group);
    if (paras.length > 1) box.append(bubble("bot", paras.pop()).lastChild);
    return box;
  }

  function render(m, live) {
    var kind = m.role === "user" ? "user" : "bot";
    var row = el("div", { class: "row " + kind + (m.crisis ? " crisis" : "") });
    if (m.crisis && live) row.setAttribute("role", "alert");
    row.append(Array.isArray(m.suggestions) && m.suggestions.length && m.asked ? offer(m) : bubble(kind, m.content, m.crisis));
    var seen = {}, cites = el("ul", { class: "cites", "aria-label": "Sources" });
    (Array.isArray(m.citations) ? m.citations : []).forEach(function (c) {
      var href = c && typeof c.url === "string" && resolve(c.url);
      if (!href || seen[href]) return;
      seen[href] = 1;
      var a = el("a", { href: href, target: "_blank", rel: "noopener", title: typeof c.quote === "string" ? c.quote : null },
        [String(c.section || "Source"), el("span", { class: "sr", text: " (opens in a new tab)" }), icon("out")]);
      cites.append(el("li", {}, [a]));
    });
    if (cites.children.length) row.append(el("div", { class: "label", "aria-hidden": "true", text: "Sources" }), cites);
    log.append(row);
    return row;
  }

  function showError(text, again) {
    var row = el("div", { class: "row bot error" }, [el("div", { class: "msg", text: text })]);
    if (again) {
      var retry = el("button", { type: "button", class: "retry", text: "Retry" });
      retry.addEventListener("click", function () {
        input.focus();
        again();
      });
      row.firstChild.append(el("br"), retry);
    }
    log.append(row);
    scrollDown();
  }

  function errorText(status, body, retryAfter) {
    var server = body && body.error && typeof body.error.message === "string" ? body.error.message : "";
    if (status === 429) {
      var secs = parseInt(retryAfter, 10);
      return "You're sending questions a little too quickly. Please wait " + (secs > 0 ? secs + " second" + (secs > 1 ? "s" : "") : "a moment") + " and try again.";
    }
    if (status === 503) return "The assistant is just starting up. Please try again in a few seconds.";
    if (status >= 500 || status < 400) return "Sorry, something went wrong on our side. Please try again.";
    if (body && body.error && body.error.code === "unknown_section") return "That section has changed. Please ask again.";
    return "Sorry, that question couldn't be sent" + (server ? ": " + server : ".");
  }

  function resetLog() {
    log.textContent = "";
    render({ role: "assistant", content: GREETING }, false);
    state.msgs.forEach(function (m) { render(m, false); });
    starters.hidden = state.msgs.some(function (m) { return m.role === "user"; }) || !STARTERS.length;
    var last = state.msgs[state.msgs.length - 1];
    if (last && last.role === "user") showError("Your last question hasn't been answered yet.", function () { ask(last.content, true, last.pick); });
  }

  function scrollDown() { scroll.scrollTop = scroll.scrollHeight; }

  var busy = false;
  function setBusy(b) {
    busy = b;
    typing.hidden = !b;
    log.setAttribute("aria-busy", b ? "true" : "false");
    send.setAttribute("aria-disabled", b ? "true" : "false");
    scrollDown();
  }

  // pick: a picked suggestion's request body; the visitor's turn shows its heading.
  async function ask(question, retrying, pick) {
    question = (question || "").trim();
    if (busy || !question) return;
    [].slice.call(log.querySelectorAll(".error")).forEach(function (n) { n.remove(); });
    starters.hidden = true;
    if (!retrying) {
      state.msgs.push({ role: "user", content: question, pick: pick });
      save();
      render(state.msgs[state.msgs.length - 1], true);
    }
    var history = pick ? pick.history : state.msgs.slice(0, -1).slice(-HISTORY_TURNS).map(function (m) {
      return { role: m.role, content: m.content.slice(0, 4000) };
    });
    setBusy(true);
    var failure = null, ctrl = new AbortController(), timer = setTimeout(function () { ctrl.abort(); }, 45000);
    try {
      var res = await fetch(API + "/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-FAQBot-Channel": "widget" },
        body: JSON.stringify(pick || { message: question, history: history }),
        credentials: "omit",
        signal: ctrl.signal
      });
      var body = null;
      try { body = await res.json(); } catch (e) { /* not JSON */ }
      if (res.ok && body && typeof body.answer === "string") {
        var m = {
          role: "assistant", content: body.answer, crisis: !!body.crisis, abstained: !!body.abstained,
          citations: (Array.isArray(body.citations) ? body.citations : []).map(function (c) {
            return { section: c && c.section, url: c && c.url, quote: c && c.quote };
          })
        };
        if (body.kind === "suggestions" && Array.isArray(body.suggestions)) {
          m.asked = { message: pick ? pick.message : question, history: history };
          m.suggestions = body.suggestions.filter(function (s) { return s && typeof s.section === "string"; }).map(function (s) {
            return { section: s.section, preview: String(s.preview || ""), key: s.source + "#" + s.anchor };
          });
        }
        state.msgs.push(m);
        save();
        render(m, true);
      } else {
        var s = res.status;
        failure = [errorText(s, body, res.headers.get("Retry-After")), s < 400 || s >= 500 || s === 408 || s === 429];
      }
    } catch (e) {
      failure = [NET_ERROR, true];
    }
    clearTimeout(timer);
    setBusy(false);
    if (failure) showError(failure[0], failure[1] && function () { ask(question, true, pick); });
  }

  function setOpen(open, moveFocus) {
    state.open = open;
    save();
    panel.hidden = !open;
    root.classList.toggle("open", open);
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
    launcher.replaceChildren(icon(open ? "close" : "chat"));
    if (open) {
      scrollDown();
      if (moveFocus) input.focus();
    } else if (moveFocus) {
      launcher.focus();
    }
  }

  // Events.
  launcher.addEventListener("click", function () { setOpen(panel.hidden, true); });
  close.addEventListener("click", function () { setOpen(false, true); });
  restart.addEventListener("click", function () {
    if (busy) return;
    state.msgs = [];
    save();
    resetLog();
    input.focus();
  });
  root.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !panel.hidden) {
      e.stopPropagation();
      setOpen(false, true);
    }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (busy || !input.value.trim()) return;
    var q = input.value;
    input.value = "";
    ask(q);
  });
  STARTERS.forEach(function (q) {
    var b = el("button", { type: "button", text: q });
    b.addEventListener("click", function () {
      input.focus();
      ask(q);
    });
    starters.append(b);
  });

  resetLog();
  function mount() {
    (document.body || document.documentElement).append(host);
    if (state.open) setOpen(true, false);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
